"""Derivations as Lean-style ``calc`` chains: each line ``lhs = rhs`` with a justification.

A :class:`Derivation` holds a forward definition y = f(θ), the variable θ, and a list of
:class:`Step` objects of three kinds:

* ``define``  — introduces Δy (the perturbation) or ΔL (the loss differential). The right
  side is checked against the definition: Δy = f(θ + Δθ) − f(θ) exactly, and
  ΔL = ⟨dL/dy, Δy⟩ (for a layer whose output is the loss, ΔL is the perturbation itself);
* ``chain``   — ``= rhs``: the new right side is compared with the previous one, with defined
  symbols replaced by their values. Exact equality is tried first; inside a Δ-chain,
  equality to first order is accepted and the dropped terms are reported;
* ``readoff`` — ``⇒ dL/dθ = G``: the previous line must equal ⟨G, Δθ⟩ with G free of Δ.

After the chain, the read-off gradient is cross-checked against the symbolic Jacobian of the
forward definition (``jacobian.py``), independently of the steps.
"""
from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any, Callable

from symderiv.errors import NameError_, NotInFragment, ShapeError, SymderivError
from symderiv.lang.operators import Expr, Inner, Sym, as_expr, delta_of, grad_of, substitute, sym_from
from symderiv.lang.printing import latex, plain
from symderiv.derive.typos import blame_typo
from symderiv.derive.rules import get_rule, perturbation
from symderiv.kernel.decide import (
    DEFAULT_BUDGET, FAILED, UNDECIDED, VERIFIED, Budget, Hypothesis, Obligation, Verdict, annotate, check_gradient,
    discharge, ill_formed, undecided,
)


@dataclass
class Step:
    rhs: Expr
    lhs: Expr | None = None
    kind: str = "chain"  # chain | define | readoff | problem (a line of the chain that could not be read)
    rule: str | None = None
    note: str = ""
    line: int | None = None
    verdict: Verdict | None = None
    #: the line before this one could not be read: the step from it is not checked (and this line's
    #: value is what the next line is compared with)
    after_unreadable: bool = False
    #: where a document line starts (1-based column), when the step comes from a document
    col: int | None = None
    #: how the step is shown when it is not an expression chain (a refused line, a claim): plain text,
    #: and the author's own LaTeX
    text_override: str | None = None
    raw: str | None = None
    #: a definition the author wrote with ≈: it is checked to first order in Δ (with =, exactly)
    approx: bool = False

    def latex(self, **settings) -> str:
        if self.text_override is not None:
            return self.raw or self.text_override  # a line shown as the author wrote it
        if self.kind == "readoff":
            return r"\Rightarrow " + latex(self.lhs, **settings) + " = " + latex(self.rhs, **settings)
        left = latex(self.lhs, **settings) + " " if self.lhs is not None else ""
        return left + "= " + latex(self.rhs, **settings)

    def plain(self, **settings) -> str:
        if self.text_override is not None:
            return self.text_override
        if self.kind == "readoff":
            return "⇒ " + plain(self.lhs, **settings) + " = " + plain(self.rhs, **settings)
        left = plain(self.lhs, **settings) + " " if self.lhs is not None else ""
        return left + "= " + plain(self.rhs, **settings)

    @property
    def status(self) -> str:
        return self.verdict.status if self.verdict else UNDECIDED

    def to_dict(self, **settings) -> dict[str, Any]:
        r = get_rule(self.rule)
        v = self.verdict
        return {
            "line": self.line,
            "column": self.col,
            "latex": self.latex(**settings),
            "text": self.plain(**settings),
            "rule": self.rule,
            "rule_title": r.title if r else (self.rule or ""),
            "justification": r.formula if r else "",
            "note": self.note,
            "status": self.status,
            "method": v.method if v else "not checked",
            "methods": list(v.methods) if v else [],
            "reason": v.reason if v else "",
            "counterexample": v.counterexample.to_dict() if v and v.counterexample else None,
            "relation": v.relation if v else None,
            "dropped_terms": [t.latex() for t in v.dropped] if v else [],
            "bound": dict(v.bound) if v else {},
        }


def compare(a: Expr, b: Expr, budget: Budget = DEFAULT_BUDGET, hypotheses: tuple[Hypothesis, ...] = ()) -> Verdict:
    """One line against the previous one: exact equality, else — when perturbations Δ occur —
    equality to first order (the differential method drops terms of order ≥ 2).

    With ``hypotheses`` (the derivation's stated conditions, e.g. 𝟏ᵀy = 1), a step that is not
    verified unconditionally is checked again under them; the verdict then names the hypotheses, so
    a report shows which steps needed them."""
    v = _compare(a, b, budget, ())
    if v.status != VERIFIED and hypotheses:
        # the derivation claims its steps under its hypotheses: a counterexample that violates them
        # refutes nothing, so the verdict under the hypotheses is the verdict
        return _compare(a, b, budget, hypotheses)
    return v


def _compare(a: Expr, b: Expr, budget: Budget, hypotheses: tuple[Hypothesis, ...]) -> Verdict:
    v = discharge(Obligation(a, b, "exact", hypotheses), budget)
    if v.status != VERIFIED and (a.has_delta() or b.has_delta()) and a.shape == b.shape:
        w = discharge(Obligation(a, b, "first-order", hypotheses), budget)
        if w.status == VERIFIED or v.status == UNDECIDED:
            return w
        return w if w.reason else v
    return v


UNREADABLE_BEFORE = ("the line before was refused (see its message), so the step from it to this line is not "
                     "checked (the next line is compared with this one)")


def error_verdict(exc: BaseException, **kw) -> Verdict:
    """The verdict for a check that raised instead of deciding.

    Only an ill-typed statement (operands whose shapes cannot match, one name with two shapes) is
    ``failed``: such an equation is false as written. Anything else (outside the decided fragment,
    nesting too deep, a bug) is ``undecided`` with its reason, never ``failed``.
    """
    if isinstance(exc, (ShapeError, NameError_)):
        return ill_formed(str(exc), "shape check", methods=["shape-check"], **kw)
    if isinstance(exc, NotInFragment):
        return undecided("not decided", reason=f"outside what the verifier decides: {exc}", **kw)
    if isinstance(exc, RecursionError):
        return undecided("not decided", reason="the expression is nested too deeply to decide", **kw)
    if isinstance(exc, SymderivError):
        return undecided("not decided", reason=str(exc), **kw)
    return undecided("not decided", reason=f"the verifier failed on this statement "
                   f"({type(exc).__name__}: {exc}); please report it", **kw)


class Derivation:
    """A derivation of dL/dθ for y = f(θ), written step by step and checked step by step.

    ``output`` is the symbol y (or the loss L itself when ``is_loss``); ``forward`` is f;
    ``wrt`` is θ. The upstream gradient dL/dy is the symbol :attr:`grad` (absent for a loss).
    """

    def __init__(
        self,
        title: str,
        output,
        forward,
        wrt,
        is_loss: bool = False,
        loss: str = "L",
        descriptions: dict[str, str] | None = None,
        name: str | None = None,
        notation: str = "seed",
        hypotheses: Iterable[Any] = (),
        assume: Iterable[Any] = (),
    ):
        self.title = title
        #: stated conditions (𝟏ᵀy = 1, A = Aᵀ, x > 0): a step that needs one is verified *under* it
        from symderiv.derive.assumptions import as_hypotheses

        self.hypotheses: tuple[Hypothesis, ...] = as_hypotheses(list(hypotheses) + list(assume))
        #: named intermediate values (μ := 𝟏ᵀx/n, σ := √(v + ε)), in order, each body in terms of the
        #: earlier names: steps are *shown* with the names and *checked* with them expanded
        self.abbreviations: list[tuple[Sym, Expr]] = []
        self.name = name
        self.notation = notation
        self.mode: str | None = None
        self.heading: str | None = None  # the document section it was read from
        self.remarks: list[dict] = []
        self.output: Sym = sym_from(output)
        self.forward: Expr = as_expr(forward)
        self.wrt: Sym = sym_from(wrt)
        if self.forward.shape != self.output.shape:
            raise ShapeError(
                f"the forward definition {self.forward!r} is {self.forward.shape[0]}×{self.forward.shape[1]} "
                f"but {self.output.name} is {self.output.shape[0]}×{self.output.shape[1]}"
            )
        if is_loss and not self.output.is_scalar:
            raise ShapeError(f"a loss must be scalar, {self.output.name} is not")
        self.is_loss = is_loss
        # when the output is itself the loss, its name is the loss: dq/dx for q = xᵀAx
        self.loss = self.output.name if is_loss else loss
        self.grad: Sym | None = None if is_loss else grad_of(self.output, loss)
        self.delta_out = delta_of(self.output)
        self.delta_loss = Sym("Δ" + (self.output.name if is_loss else loss), 1, 1, kind="delta")
        self.delta_wrt = delta_of(self.wrt)
        self.descriptions = descriptions or {}
        self.steps: list[Step] = []
        self.gradient: Expr | None = None
        self.jacobian: Verdict | None = None
        self.checked = False
        #: set by the document reader: the section the derivation was read in (its forward definitions
        #: relate the gradient symbols of its steps) and the values defined there that its steps expand
        #: as (name, plain text of the value)
        self.scope: Any = None
        self.constants: set[tuple[str, str]] = set()

    def use_upstream_gradient(self, loss: str = "L") -> None:
        """Treat the (scalar) output as an intermediate value of a loss ``loss``: ΔL = ⟨dL/dy, Δy⟩
        is then the definition of the gradient, as for a vector-valued layer."""
        self.is_loss = False
        self.loss = loss
        self.grad = grad_of(self.output, loss)
        self.delta_loss = Sym("Δ" + loss, 1, 1, kind="delta")
        if self.heading:
            from symderiv.lang.printing import plain

            self.title = f"{self.heading}: {plain(self.grad)[:1]}{plain(Sym(loss, 1, 1))}/d{plain(self.wrt)}"
        for s in self.steps:
            if s.kind == "define" and isinstance(s.lhs, Sym) and s.lhs.name == self.delta_out.name:
                s.lhs = self.delta_out

    # -- writing -----------------------------------------------------------------------
    def define(self, lhs, rhs, rule: str | None = None, note: str = "", line: int | None = None) -> "Derivation":
        self.steps.append(Step(as_expr(rhs), as_expr(lhs), "define", rule, note, line))
        return self

    def perturb(self, rhs, rule: str = "perturbation", **kw) -> "Derivation":
        """Δy = rhs, checked against f(θ + Δθ) − f(θ)."""
        lhs = self.delta_loss if self.is_loss else self.delta_out
        return self.define(lhs, rhs, rule, **kw)

    def loss_differential(self, rhs=None, rule: str = "loss-differential", **kw) -> "Derivation":
        """ΔL = ⟨dL/dy, Δy⟩ (the default right side)."""
        return self.define(self.delta_loss, rhs if rhs is not None else Inner(self.grad, self.delta_out), rule, **kw)

    def eq(self, rhs, rule: str | None = None, lhs=None, note: str = "", line: int | None = None) -> "Derivation":
        """Continue the chain: ``= rhs`` (or ``lhs = rhs`` restating the subject)."""
        self.steps.append(Step(as_expr(rhs), as_expr(lhs) if lhs is not None else None, "chain", rule, note, line))
        return self

    def read_off(self, gradient, rule: str = "read-off", note: str = "", line: int | None = None) -> "Derivation":
        """⇒ dL/dθ = gradient."""
        lhs = Sym(f"d{self.loss}/d{self.wrt.name}", self.wrt.shape[0], self.wrt.shape[1], kind="grad")
        self.steps.append(Step(as_expr(gradient), lhs, "readoff", rule, note, line))
        return self

    # -- named intermediates -------------------------------------------------------------
    def abbreviate(self, name, body, description: str = "") -> Sym:
        """Name an intermediate value: ``name := body`` (``body`` may use earlier names). Returns the
        symbol. A name is a definition, not a new variable: every check expands it first, so a step is
        verified exactly when it is verified with the definitions written out."""
        body = as_expr(body)
        sym = Sym(name, body.shape[0], body.shape[1]) if isinstance(name, str) else sym_from(name)
        if sym.shape != body.shape:
            raise ShapeError(f"{plain(sym)} is {sym.shape[0]}×{sym.shape[1]} but its definition is "
                             f"{body.shape[0]}×{body.shape[1]}")
        taken = {s.name for s in self.forward.symbols()} | {a.name for a, _ in self.abbreviations}
        taken |= {self.delta_wrt.name, self.delta_out.name, self.delta_loss.name}
        if sym.name in taken and sym.name != self.output.name:
            raise NameError_(f"{sym.name} already names a symbol of this derivation")
        self.abbreviations.append((sym, body))
        self.descriptions.setdefault(sym.name, description or f"abbreviation: {plain(sym)} := {plain(body)}")
        return sym

    def unfold(self, e: Expr) -> Expr:
        """``e`` with every named intermediate replaced by its definition (latest first)."""
        for sym, body in reversed(self.abbreviations):
            e = substitute(e, {sym.name: body})
        return e

    def fold(self, e: Expr) -> Expr:
        """``e`` with every occurrence of a definition replaced by its name (for display only)."""
        from symderiv.lang.operators import map_bottom_up

        for sym, body in self.abbreviations:
            e = map_bottom_up(e, lambda n, sym=sym, body=body: sym if n == body else n)
        return e

    def fold_steps(self) -> None:
        """Show every step with the named intermediates (the checks still expand them)."""
        for st in self.steps:
            if st.rhs is None:  # a line that could not be read
                continue
            st.rhs = self.fold(st.rhs)
            if st.lhs is not None:
                st.lhs = self.fold(st.lhs)

    def shown_forward(self) -> Expr:
        """The forward definition as a report shows it: with named intermediates inside it."""
        if not self.abbreviations:
            return self.forward
        return self.forward.with_children(*[self.fold(c) for c in self.forward.children])

    # -- checking ----------------------------------------------------------------------
    def expected_definition(self, lhs: Expr) -> Expr | None:
        if isinstance(lhs, Sym) and lhs.name == self.delta_loss.name:
            if self.is_loss:
                return perturbation(self.forward, self.wrt)
            return Inner(self.grad, self.delta_out)
        if isinstance(lhs, Sym) and lhs.name == self.delta_out.name:
            return perturbation(self.forward, self.wrt)
        return None

    def check(self, budget: Budget = DEFAULT_BUDGET, jacobian: bool = True) -> "Derivation":
        """Verify every step and cross-check the read-off gradient. Returns ``self``."""
        values: dict[str, Expr] = {}
        prev: Expr | None = None
        before_prev: Expr | None = None
        self.gradient = None
        for i, step in enumerate(self.steps):
            if step.kind == "problem":
                continue  # a line of the chain that could not be read: its verdict was set when it was read
            if step.after_unreadable and step.kind in ("chain", "readoff"):
                step.verdict = undecided("not checked", reason=UNREADABLE_BEFORE)
            else:
                step.verdict = self._check_step(step, prev, values, budget)
            if step.kind == "define":
                expected = self.expected_definition(step.lhs)
                values[step.lhs.name] = substitute(expected if expected is not None else self.unfold(step.rhs), values)
            if step.kind == "readoff":
                self.gradient = step.rhs
            # A line that disagrees with both neighbours while they agree with each other is most
            # likely a typo on that line: re-check the next line against the one before it.
            if (step.kind == "chain" and i >= 1 and self.steps[i - 1].kind == "chain"
                    and self.steps[i - 1].status == FAILED and step.status == FAILED and before_prev is not None):
                retry = self._check_step(step, before_prev, values, budget)
                if retry.status == VERIFIED:
                    # the step as written (from the typo line) stays failed: a ✓ here would claim the
                    # author's step is right; the diagnosis only says where the mistake probably is
                    before = self.steps[i - 2].line if i >= 2 else None
                    self.steps[i - 1].verdict, step.verdict = blame_typo(
                        self.steps[i - 1].verdict, step.verdict,
                        f"line {before}" if before is not None else "the line before the suspected typo")
                    prev = step.rhs
                    continue
            if step.kind != "readoff":
                before_prev, prev = prev, step.rhs
        self.jacobian = None
        if jacobian and self.gradient is not None:
            gradient = self.unfold(self.gradient)
            self.jacobian = check_gradient(self.forward, self.wrt, gradient, self.grad, budget)
            if self.jacobian.status != VERIFIED and self.hypotheses:
                self.jacobian = check_gradient(self.forward, self.wrt, gradient, self.grad, budget, self.hypotheses)
        self.checked = True
        return self

    def _check_step(self, step: Step, prev: Expr | None, values: dict[str, Expr], budget: Budget) -> Verdict:
        try:
            if step.kind == "define":
                expected = self.expected_definition(step.lhs)
                if expected is None:
                    return ill_formed(f"{plain(step.lhs)} is not Δ of the output or of the loss", "definition", lhs=step.lhs, rhs=step.rhs)
                a, b = substitute(self.unfold(step.rhs), values), substitute(expected, values)
                # The definition is the left side: a claim holds where its left side is defined (§1.2), and
                # the author's line must be defined wherever the quantity it computes is, not the other way
                # (½(x − m)ᵀC⁻¹(x − m) for a ΔL whose definition has log det C). Under the derivation's
                # hypotheses, like every other step.
                if step.approx:
                    v = self._compare(b, a, budget)
                else:
                    v = discharge(Obligation(b, a), budget)
                    if v.status != VERIFIED and self.hypotheses:  # as compare(): needed only if used
                        v = discharge(Obligation(b, a, hypotheses=self.hypotheses), budget)
                what = "Δ" + self.output.name + " := f(" + self.wrt.name + " + Δ" + self.wrt.name + ") − f(" + self.wrt.name + ")"
                if not self.is_loss and step.lhs.name == self.delta_loss.name:
                    what = "ΔL := ⟨dL/d" + self.output.name + ", Δ" + self.output.name + "⟩ (definition of the gradient)"
                return annotate(v, method_prefix=f"compared with the definition {what}: ")
            if prev is None:
                return ill_formed("a continuation line needs a previous line", "chain", rhs=step.rhs)
            a = substitute(self.unfold(prev), values)
            if step.kind == "readoff":
                if step.rhs.has_delta():
                    return ill_formed("the gradient still contains a perturbation Δ", "read-off", lhs=step.lhs, rhs=step.rhs)
                if step.rhs.shape != self.wrt.shape:
                    return ill_formed(
                        method="shape check",
                        reason=f"dL/d{self.wrt.name} must have the shape of {self.wrt.name} "
                        f"({self.wrt.shape[0]}×{self.wrt.shape[1]}), got {step.rhs.shape[0]}×{step.rhs.shape[1]}",
                        lhs=step.lhs, rhs=step.rhs,
                    )
                if not a.is_scalar:
                    return ill_formed(
                        method="shape check",
                        reason=f"a read-off ⇒ dL/d{self.wrt.name} = G needs the line before it to be the scalar "
                        f"ΔL = ⟨G, Δ{self.wrt.name}⟩; the line before is {a.shape[0]}×{a.shape[1]} (write ΔL = ⟨dL/d"
                        f"{self.output.name}, Δ{self.output.name}⟩ = … first)",
                        lhs=step.lhs, rhs=step.rhs,
                    )
                b = Inner(self.unfold(step.rhs), self.delta_wrt)
                v = self._compare(a, b, budget)
                return annotate(v, method_prefix=f"the previous line equals ⟨G, Δ{self.wrt.name}⟩ with G free of Δ: ")
            b = substitute(self.unfold(step.rhs), values)
            return self._compare(a, b, budget)
        except Exception as exc:  # noqa: BLE001 — every exception becomes a verdict that says what it is
            return error_verdict(exc, lhs=step.lhs, rhs=step.rhs)

    def _compare(self, a: Expr, b: Expr, budget: Budget) -> Verdict:
        return compare(a, b, budget, self.hypotheses)

    # -- results -----------------------------------------------------------------------
    @property
    def status(self) -> str:
        if not self.checked:
            return UNDECIDED
        statuses = [s.status for s in self.steps]
        if self.jacobian is not None:
            statuses.append(self.jacobian.status)
        if FAILED in statuses:
            return FAILED
        if UNDECIDED in statuses or self.gradient is None or self.jacobian is None:
            return UNDECIDED
        return VERIFIED

    def first_failure(self) -> Step | None:
        return next((s for s in self.steps if s.status != VERIFIED), None)

    def symbols(self) -> list[Sym]:
        exprs = [self.output, self.forward] + [s.rhs for s in self.steps if s.rhs is not None]
        seen: dict[str, Sym] = {}
        for e in exprs:
            for s in e.symbols():
                seen.setdefault(s.name, s)
        return list(seen.values())

    def uses_sequences(self) -> bool:
        from symderiv.lang.operators import is_sequence_expr

        return is_sequence_expr(self.forward)

    def definitions(self) -> list[str]:
        """LaTeX definitions of the operators a report must state before using them."""
        if not self.uses_sequences():
            return []
        from symderiv.lang.printing import NOTATIONS

        c, v = NOTATIONS[self.notation]["corr"][0], NOTATIONS[self.notation]["conv"][0]
        out = [
            rf"(x {c} w)_i := \sum_j x_{{i+j}}\, w_j \quad\text{{(correlation)}}",
            rf"(x {v} w)_i := \sum_j x_{{i-j}}\, w_j \quad\text{{(convolution)}}",
            r"\langle a, b \rangle := \sum_i a_i\, b_i",
        ]
        if self.mode:
            out += [
                r"E\,v \text{: zero-extension of } v \in \mathbf{R}^{n} \text{ to } \mathbb{Z} \; (v_i \text{ for } 0 \le i < n,\ 0 \text{ elsewhere})",
                r"\left(R_{[a,\, b]}\, s\right)_i := s_{a+i} \quad (0 \le i \le b - a)",
                r"(\tau_{d}\, s)_i := s_{i-d}",
                rf"x {c}_{{m}} w := R_{{[o,\, o+L-1]}}\left(E\,x {c} E\,w\right): \ \text{{valid }} (o, L) = (0,\, n-k+1),\ "
                rf"\text{{full }} (-(k-1),\, n+k-1),\ \text{{same }} (-\lfloor k/2 \rfloor,\, n)",
                rf"x {v}_{{m}} w := R_{{[o,\, o+L-1]}}\left(E\,x {v} E\,w\right): \ \text{{valid }} (k-1,\, n-k+1),\ "
                rf"\text{{full }} (0,\, n+k-1),\ \text{{same }} (\lfloor (k-1)/2 \rfloor,\, n)",
            ]
        return out

    def to_dict(self) -> dict[str, Any]:
        j = self.jacobian
        st = {"notation": self.notation}
        return {
            "title": self.title,
            "layer": self.name,
            "mode": self.mode,
            "wrt": self.wrt.name,
            "status": self.status,
            "notation": self.notation if self.uses_sequences() else None,
            "definitions": self.definitions(),
            "remarks": self._abbreviation_remarks(st) + list(self.remarks) + self._hypothesis_remarks(),
            "forward": latex(self.output, **st) + " = " + latex(self.shown_forward(), **st),
            "gradient": latex(self.gradient, **st) if self.gradient is not None else None,
            "gradient_text": plain(self.gradient, **st) if self.gradient is not None else None,
            **jacobian_fields(j),
            "symbols": [
                {
                    "name": s.name,
                    "latex": latex(s, **st),
                    "shape": [_dim_text(s.shape[0]), _dim_text(s.shape[1])],
                    "description": self.descriptions.get(s.name) or _auto_description(s),
                }
                for s in self.symbols()
            ],
            "steps": [s.to_dict(**st) for s in self.steps],
        }

    def hypothesis_text(self) -> str:
        """The stated hypotheses as one phrase: "1ᵀy = 1", "A = Aᵀ and x > 0"."""
        return " and ".join(hypothesis_phrase(h) for h in self.hypotheses)

    def _abbreviation_remarks(self, st: dict) -> list[dict]:
        if not self.abbreviations:
            return []
        return [{"title": "Named intermediates",
                 "text": "The steps use these names for readability; every check expands them first.",
                 "math": [latex(s, **st) + " := " + latex(b, **st) for s, b in self.abbreviations]}]

    def _hypothesis_remarks(self) -> list[dict]:
        """What the report says about the hypotheses, computed from the verdicts: the overall status
        *under* them and the steps (and Jacobian check) that needed them."""
        if not self.hypotheses:
            return []
        used = [str(i) for i, s in enumerate(self.steps, 1) if s.verdict and "hypotheses" in s.verdict.methods]
        jac = bool(self.jacobian and "hypotheses" in self.jacobian.methods)
        stated = self.hypothesis_text()
        if not used and not jac:
            return [{"title": f"{self.status.capitalize()} without using {stated}",
                     "text": f"The derivation is stated under {stated}, but every step and the Jacobian cross-check "
                             "are verified without it.", "math": []}]
        where = ("step" + ("s " if len(used) > 1 else " ") + ", ".join(used)) if used else ""
        needs = (where + (" needs" if len(used) == 1 else " need") + " it" if used else "")
        if jac:
            needs = (needs + " and so does the Jacobian cross-check") if needs else "the Jacobian cross-check needs it"
        text = (f"The derivation is stated under {stated}. Every step is checked first without it; {needs}, "
                "and is verified under it (the verdict names the hypothesis and how it was applied).")
        return [{"title": f"{self.status.capitalize()} under {stated}", "text": text, "math": []}]

    def explain(self) -> str:
        under = f" under {self.hypothesis_text()}" if self.hypotheses else ""
        lines = [f"{self.title}: {self.status}{under}"]
        for sym, body in self.abbreviations:
            lines.append(f"  where {plain(sym)} := {plain(body)}")
        for s in self.steps:
            mark = {"verified": "✓", "failed": "✗"}.get(s.status, "?")
            lines.append(f"  {mark} {s.plain()}   [{s.rule or 'step'}]")
            if s.status != VERIFIED and s.verdict:
                lines.append("      " + s.verdict.explain().replace("\n", "\n      "))
        if self.jacobian:
            lines.append(f"  Jacobian cross-check: {self.jacobian.status} — {self.jacobian.method}")
        for r in self.remarks:
            lines.append(f"  {r['title']}: {r['text']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Derivation {self.title!r}: {self.status}, {len(self.steps)} steps>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Jupyter display through the hook the report layer registers (:mod:`symderiv.report.display`,
        loaded here by name on first display); plain text alone when no report layer can be loaded.
        The model never imports the renderer."""
        if _DISPLAY_HOOK is None:
            with contextlib.suppress(ImportError):
                importlib.import_module(DEFAULT_DISPLAY)  # registers itself on import
        if _DISPLAY_HOOK is None:
            return {"text/plain": self.explain()}
        return _DISPLAY_HOOK(self)


#: the report layer's display, loaded by name (not imported: derive/ sits below report/)
DEFAULT_DISPLAY = "symderiv.report.display"
#: set by :func:`register_display`; called with a Derivation, returns a Jupyter MIME bundle
_DISPLAY_HOOK: Callable[[Derivation], dict[str, str]] | None = None


def register_display(hook: Callable[[Derivation], dict[str, str]]) -> None:
    """Install the notebook display of derivations (the report layer calls this on import)."""
    global _DISPLAY_HOOK
    _DISPLAY_HOOK = hook


def jacobian_fields(j: Verdict | None) -> dict[str, Any]:
    """The Jacobian cross-check's part of a derivation's JSON (one shape for every kind of derivation)."""
    return {
        "jacobian_check": j.status if j else UNDECIDED,
        "jacobian_method": j.method if j else "not run: no gradient was read off",
        "jacobian_methods": list(j.methods) if j else [],
        "jacobian_counterexample": j.counterexample.to_dict() if j and j.counterexample else None,
    }


def hypothesis_phrase(h: Hypothesis) -> str:
    """1ᵀy = 1, A = Aᵀ, ε > 0: a hypothesis in Unicode, with the symbol as printed."""
    return h.text(unicode=True)


def _auto_description(s: Sym) -> str:
    if s.kind == "delta":
        return f"perturbation of {s.name[1:]}"
    if s.kind == "grad":
        loss, wrt = s.name[1:].split("/d", 1)
        return f"gradient of {loss} with respect to {wrt}"
    return ""


def _dim_text(d) -> str:
    import sympy

    from symderiv.lang.printing import linear_text

    if d is sympy.oo:
        return r"\infty"
    text = linear_text(d, tex=True)
    return f"({text})" if len(sympy.Add.make_args(d)) > 1 else text
