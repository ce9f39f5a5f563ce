"""Checking a Markdown document of derivations, line by line.

Pass 1 reads the structure: headings open nested scopes; prose math such as
``$x \\in \\mathbf{R}^n$`` or ``$dy := \\frac{dL}{dy} \\in \\mathbf{R}^m$`` declares symbols and
aliases; an operator definition ``$$y_i := \\sum_j x_{i+j} w_j$$`` after ``$$y = x \\odot w$$``
gives ⊙ its meaning (correlation here, by the index pattern: a declared choice, never a default).

Pass 2 gives every display line a role:

* ``y = f(x)`` — the forward definition (a later ``y = ...`` restates it and is checked);
* ``\\Delta y = ...`` — a perturbation: starts a derivation; the variable is read from the Δ in it;
* ``\\Delta L = \\langle \\frac{dL}{dy}, \\Delta y \\rangle`` — the loss differential;
* ``= ...`` — continues the chain;
* ``\\Rightarrow \\frac{dL}{dx} = G`` (or ``\\frac{dL}{dx} = G``) — the read-off;
* anything else between expressions — an identity claim, checked as such.

Each chain is a :class:`~symderiv.derivation.Derivation` and gets the core verifier's verdicts,
the typo detection and the Jacobian cross-check. A problem confined to one line (an undeclared
symbol, a shape mismatch) is reported at that line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy

from symderiv.derive.derivation import UNREADABLE_BEFORE, Derivation, Step, compare, error_verdict
from symderiv.derive.rules import RULES
from symderiv.derive.typos import blame_typo
from symderiv.documents import syntax as S
from symderiv.documents.interpret import (
    FuncApp,
    Interpreter,
    ParsedLine,
    Scope,
    affine_of,
    declared_name,
    parse_space,
    segmentations,
)
from symderiv.documents.reader import (
    CONDITION_NOTE,
    NEGATING_NOTE,
    Block,
    MathLine,
    decode,
    has_relation,
    read_math,
    scan_markdown,
    without_code_spans,
)
from symderiv.errors import LineError, ReadError, SymderivError
from symderiv.kernel.decide import (
    DEFAULT_BUDGET,
    FAILED,
    UNDECIDED,
    VERIFIED,
    Budget,
    Hypothesis,
    Obligation,
    Verdict,
    annotate,
    decide_index,
    decide_numbers,
    discharge,
    ill_formed,
    undecided,
)
from symderiv.kernel.hypotheses import substitution
from symderiv.lang.index import IndexNotation, IndexSum
from symderiv.lang.operators import (
    Add,
    Conv,
    Corr,
    Det,
    Expr,
    Fn,
    Inner,
    Inv,
    LogDet,
    MatMul,
    Ones,
    Scale,
    Sym,
    Trace,
    Transpose,
    delta_degree,
    substitute,
)
from symderiv.lang.printing import latex, plain


@dataclass
class ClaimStep(Step):
    """A step of a :class:`Claim`: a = b checked alone, or a line that could not be used."""

    #: the two sides as read (an Expr, a number, index notation): a claim's sides need not be expressions
    value: Any = None
    value_left: Any = None
    #: the author claimed equality to first order (≈)
    first_order: bool = False
    #: values defined in force at the line (S = A + Aᵀ): name -> value, expanded on both sides when checked
    defined: dict | None = None


@dataclass
class Claim:
    """An identity stated outside a derivation (or a line that could not be used), checked alone."""

    title: str
    steps: list[ClaimStep] = field(default_factory=list)
    #: the section it was stated in (its forward definitions relate the gradient symbols it mentions)
    scope: Any = None

    @property
    def status(self) -> str:
        sts = [s.status for s in self.steps]
        return FAILED if FAILED in sts else UNDECIDED if UNDECIDED in sts else VERIFIED

    def to_dict(self, notation: str = "seed") -> dict:
        return {"title": self.title, "status": self.status, "steps": [s.to_dict(notation=notation) for s in self.steps]}


@dataclass
class CheckedDocument:
    path: str
    blocks: list[Block]
    derivations: list[Derivation] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    definitions: list[dict] = field(default_factory=list)
    operator_lines: set = field(default_factory=set)  # lines "y = x ⊙ w" that introduce an operator definition
    #: (line, col) of self-contained operator definitions "(x ⊙ w)_i = Σ_j x_{i+j} w_j": definitions, not claims
    operator_definitions: set = field(default_factory=set)

    #: math lines found unreadable while reading the declarations: (line, col) -> (line, col, message)
    unreadable: dict = field(default_factory=dict)
    #: names whose declaration could not be read: name as written -> (line, col) of that declaration
    failed_declarations: dict = field(default_factory=dict)
    nothing_reason: str = ""  # set when no statement was found to check: why
    #: the hypotheses in force at each math line (from <!-- symderiv: assume ... --> in its section)
    hypotheses_at: dict[int, tuple] = field(default_factory=dict)
    budget: DocumentBudget = field(default_factory=lambda: DEFAULT_DOCUMENT_BUDGET)

    @property
    def status(self) -> str:
        sts = [d.status for d in self.derivations] + [c.status for c in self.claims]
        if not sts:
            return UNDECIDED  # nothing checked is not "verified"
        return FAILED if FAILED in sts else UNDECIDED if UNDECIDED in sts else VERIFIED

    @property
    def nothing_checked(self) -> bool:
        return not self.derivations and not self.claims

    def all_steps(self):
        """(step, owner title) pairs in source order."""
        out = []
        for d in self.derivations:
            out += [(s, d.title) for s in d.steps]
        for c in self.claims:
            out += [(s, c.title) for s in c.steps]
        return sorted(out, key=lambda p: (p[0].line or 0, p[0].col or 0))

    def to_dict(self) -> dict:
        out = {
            "path": self.path,
            "status": self.status,
            "definitions": self.definitions,
            "derivations": [d.to_dict() for d in self.derivations],
            "claims": [c.to_dict() for c in self.claims],
        }
        if self.nothing_checked:
            out["message"] = self.nothing_reason
        return out


# ---------------------------------------------------------------------------------------
def check_file(path: str, check: bool = True) -> CheckedDocument:
    try:
        with open(path, "rb") as fh:
            data = fh.read(2_000_001)
    except OSError as exc:
        raise ReadError(path, 1, 1, f"cannot read the file: {exc.strerror}") from None
    return check_text(decode(data, path), path, check)


def normalize_text(text: str) -> str:
    """A BOM at the start is dropped; CRLF and a lone CR (classic Mac) are line breaks."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True)
class DocumentBudget:
    """A whole-document budget, deterministic (counts, never seconds).

    Reading costs about linear time in the characters of math parsed, checking about linear
    time in the statements checked; past either limit the rest of the document is reported
    ``undecided`` with the line where the budget ran out, so every document finishes."""

    math_chars: int = 100_000
    statements: int = 1_500
    #: the kernel's budget for each statement and derivation the document checks
    kernel: Budget = DEFAULT_BUDGET


DEFAULT_DOCUMENT_BUDGET = DocumentBudget()


def check_text(text: str, path: str = "<input>", check: bool = True,
               budget: DocumentBudget = DEFAULT_DOCUMENT_BUDGET) -> CheckedDocument:
    """Read a document and (unless ``check=False``) check every derivation and statement."""
    text = normalize_text(text)
    blocks = scan_markdown(text, path)
    doc = CheckedDocument(path, blocks)
    doc.budget = budget
    used, cut = 0, len(blocks)
    for k, b in enumerate(blocks):
        used += sum(len(ml.text) for ml in b.math if b.kind == "math" or "\\in" in ml.text or ":=" in ml.text)
        if used > budget.math_chars:
            cut = k
            break
    _perturbation_sign(blocks, path)
    scopes = _pass1(blocks[:cut], path, doc)
    _pass2(blocks[:cut], scopes, path, doc)
    _locate_every_step(doc, blocks[:cut])
    if cut < len(blocks):
        b = blocks[cut]
        s = ClaimStep(None, None, "problem", None, "", b.line)
        s.verdict = undecided("document budget",
                            reason=f"the document's reading budget ({budget.math_chars} characters of math) is used up "
                            f"at line {b.line}; nothing from here to the end is checked: split the document")
        s.col = 1
        s.text_override = s.raw = "(budget)"
        doc.claims.append(Claim(f"line {b.line} (document budget)", [s]))
    if doc.nothing_checked:
        doc.nothing_reason = _why_nothing(text, blocks)
    if check:
        check_document(doc)
    return doc


_DELTA_DIRECTIVE = re.compile(r"\s*\\delta\s*=\s*perturbation\s*", re.I)
_SMALL_DELTA = re.compile(r"\\delta(?![a-zA-Z])")


def _perturbation_sign(blocks: list[Block], path: str) -> None:
    """``<!-- symderiv: \\delta = perturbation -->``: the author writes the perturbation as \\delta x. Then
    \\delta is \\Delta in every math line of the document (same length, so every column stays valid),
    with \\Delta's meaning: a finite perturbation, \\approx where a line holds to first order. Without the
    directive \\delta is a Greek letter like any other; with it, \\delta can no longer name a symbol."""
    at = None
    for b in blocks:
        if b.kind == "prose" and not b.code:
            # a directive in a `code span` is shown, not stated (a course documenting the syntax)
            for m in _NOTATION_COMMENT.finditer(without_code_spans(b.text)):
                if any(_DELTA_DIRECTIVE.fullmatch(part) for part in m.group(1).split(",")):
                    at = at or (b.line, m.start() + 1)
    if at is None:
        return
    for b in blocks:
        for ml in b.math:
            declared = re.search(r"\\delta(?![a-zA-Z])\s*(?:_\s*\S+\s*)?(?:\\in(?![a-zA-Z])|:=)", ml.text)
            if declared:
                raise ReadError(path, ml.line, ml.col + declared.start(), "\\delta is declared as a symbol here, and "
                                f"as the perturbation by the directive at line {at[0]}; keep one meaning")
            ml.text = _SMALL_DELTA.sub(lambda _: "\\Delta", ml.text)


def _locate_every_step(doc: CheckedDocument, blocks: list[Block]) -> None:
    """Every step names its column (file:line:col): a step recorded with its line only (a read-off, a
    chain step) gets the column where the math of that line starts."""
    first_col: dict[int, int] = {}
    for b in blocks:
        for ml in b.math:
            first_col.setdefault(ml.line, ml.col)
    for d in doc.derivations:
        for s in d.steps:
            if s.col is None and s.line in first_col:
                s.col = first_col[s.line]
    for c in doc.claims:
        for s in c.steps:
            if s.col is None and s.line in first_col:
                s.col = first_col[s.line]


def _why_nothing(text: str, blocks: list[Block]) -> str:
    """Why a document holds no checked statement, for the message that replaces a verdict."""
    head = "nothing was found to check: "
    if not text.strip():
        return head + "the file is empty"
    fence = [b for b in blocks if b.kind == "prose" and b.text.strip()[:3] in ("```", "~~~")]
    if len(fence) % 2 == 1:
        return head + (f"the code fence opened at line {fence[-1].line} is never closed, so everything after it "
                       "is code, not math")
    if not any(b.kind == "math" for b in blocks):
        return head + ("no display math ($$ ... $$ or \\begin{align}) with an equation; inline $...$ math in prose "
                       "only declares symbols")
    return head + "the display math holds only declarations and definitions, no equation to check"


def check_document(doc: CheckedDocument, derivations: bool = True) -> CheckedDocument:
    """Check the derivations (unless ``derivations=False``) and every other statement."""
    from symderiv.errors import NotInFragment

    budget = doc.budget
    spent = 0

    def over(steps) -> bool:
        nonlocal spent
        spent += len(steps)
        if spent <= budget.statements:
            return False
        for s in steps:
            if s.verdict is None:
                s.verdict = undecided("document budget",
                                    reason=f"the document's budget of {budget.statements} checked statements is used up; "
                                    "split the document")
        return True

    for d in doc.derivations if derivations else ():
        if over(d.steps):
            continue
        try:
            d.check(budget.kernel)
        except (NotInFragment, RecursionError) as exc:
            # outside the decided fragment: the derivation stays unchecked (undecided), with the reason
            for s in d.steps:
                if s.verdict is None:
                    s.verdict = undecided("not decided", reason=f"outside what the verifier decides: "
                                        f"{exc or type(exc).__name__}")
        except Exception as exc:  # noqa: BLE001 — a verifier bug must not take the document down
            for s in d.steps:
                if s.verdict is None:
                    s.verdict = undecided("not decided", reason=f"the verifier failed on this derivation "
                                        f"({type(exc).__name__}: {exc}); please report it")
        label_rules(d)
    for c in doc.claims:
        if over(c.steps):
            continue
        for s in c.steps:
            if s.verdict is None:
                s.verdict = _claim_verdict(s, budget.kernel, doc.hypotheses_at.get(s.line or 0, ()))
        _claim_typos(c, budget.kernel)
    for d in doc.derivations if derivations else ():
        _tied_gradients(d, d.scope, d.grad)
    for c in doc.claims:
        _tied_gradients(c, c.scope, None)
    return doc


_GRAD_NAME = re.compile(r"d(?P<loss>[^/]+)/d(?P<var>.+)")


def _tied_gradients(owner, scope, upstream: Sym | None) -> None:
    """A failure that may come only from reading a gradient as a free symbol becomes undecided.

    With h = W₁x and y = W₂h in force, dL/dh is not free: L depends on h through y, so
    dL/dh = W₂ᵀ dL/dy. The checker reads every dL/dv as an independent symbol, which keeps each ✓
    sound (it holds for every value, the true one included) but makes a true chain-rule statement
    (⟨dL/dy, W₂ΔW₁x⟩ = ⟨dL/dh, ΔW₁x⟩, dL/dh = W₂ᵀ dL/dy) "fail" at a point where dL/dh has another
    value — not a counterexample to what the author wrote. So a failed verdict is undecided, with the
    reason, when the gradients it involves (those its statement mentions, and a derivation's upstream
    dL/dy) include two of one loss whose variables are tied by the forward definitions in scope, or one
    of a loss whose own forward definition depends on its variable (L = ½‖h‖² fixes dL/dh = h). For a
    derivation this covers every step and the Jacobian cross-check of its read-off gradient."""
    if scope is None:
        return

    def grads(*es) -> dict[str, re.Match]:
        out = {}
        for e in es:
            for x in (e.symbols() if isinstance(e, Expr) else ()):
                m = _GRAD_NAME.fullmatch(x.name) if x.kind == "grad" else None
                if m is not None:
                    out[x.name] = m
        return out

    def depends(a: str, b: str) -> bool:
        known = _forward_of(scope, a)
        return known is not None and _depends_on(scope, known[1], b, 8)

    def tie(involved: dict[str, re.Match]) -> str | None:
        for b, mb in sorted(involved.items()):
            if depends(mb["loss"], mb["var"]):
                return (f"{b} is the gradient with respect to {mb['var']}, and {mb['loss']} is defined here as a "
                        f"function of {mb['var']}: its value is fixed, but it is read as a free symbol, so a point "
                        f"with another value of {b} refutes nothing; write its value instead")
            for a, ma in sorted(involved.items()):
                if a != b and ma["loss"] == mb["loss"] and depends(ma["var"], mb["var"]):
                    return (f"{b} is the gradient with respect to {mb['var']}, and {ma['var']} depends on "
                            f"{mb['var']} through the forward definitions here: its value is fixed by {a} (the "
                            f"chain rule), but both are read as free symbols, so a point where they are not related "
                            f"refutes nothing; write {b} in terms of {a}, or derive it in a section of its own")
        return None

    extra = [upstream] if upstream is not None else []
    for st_ in owner.steps:
        if st_.verdict is None or st_.verdict.status != FAILED:
            continue
        # the read-off's dL/dx is what the derivation derives, not a symbol of its statement
        sides = (st_.rhs,) if st_.kind == "readoff" else (st_.lhs, st_.rhs)
        claimed = (st_.value, st_.value_left) if isinstance(st_, ClaimStep) else ()
        why = tie(grads(*sides, *claimed, *extra))
        if why is not None:
            st_.verdict = undecided("not decided", reason=why)
    if isinstance(owner, Derivation) and owner.jacobian is not None and owner.jacobian.status == FAILED \
            and isinstance(owner.gradient, Expr):
        why = tie(grads(owner.gradient, *extra))
        if why is not None:
            owner.jacobian = undecided("not decided", reason=why)


# ---------------------------------------------------------------------------------------
# pass 1: scopes, declarations, aliases, operator meanings
# ---------------------------------------------------------------------------------------
_NOTATION_COMMENT = re.compile(r"<!--\s*symderiv:\s*(.*?)-->")
_OPS = {"correlation": "corr", "convolution": "conv", "hadamard": "hadamard"}


_TRANSPOSE = r"\^\s*(?:T|\{\s*(?:T|\\top|\\intercal)\s*\}|\\top|\\intercal)"
_NAME = r"\\?[A-Za-z]+(?:_(?:\{\s*[A-Za-z0-9]+\s*\}|[A-Za-z0-9]))?"
_HYPOTHESIS_FORMS = (
    ("positive", re.compile(rf"^(?P<name>{_NAME})\s*>\s*0$")),
    ("symmetric", re.compile(rf"^(?P<name>{_NAME})\s*=\s*(?P<other>{_NAME})\s*{_TRANSPOSE}$")),
    ("symmetric", re.compile(rf"^(?P<other>{_NAME})\s*{_TRANSPOSE}\s*=\s*(?P<name>{_NAME})$")),
    ("sums-to", re.compile(rf"^\\(?:mathbf|mathbb|boldsymbol)\{{1\}}(?:_(?:\{{\s*(?P<len>\w+)\s*\}}|(?P<len1>\w)))?\s*{_TRANSPOSE}\s*"
                           rf"(?P<name>{_NAME})\s*=\s*(?P<value>-?\d+(?:/\d+)?)$")),
    ("detpos", re.compile(rf"^\\det\s*(?:\(\s*(?P<name>{_NAME})\s*\)|\{{\s*(?P<n2>{_NAME})\s*\}}|(?P<n3>{_NAME}))"
                          rf"\s*>\s*0$")),
    ("invertible", re.compile(rf"^(?P<name>{_NAME})\s+(?:is\s+)?invertible$")),
)


def _parse_hypothesis(text: str, path: str, line: int, col: int) -> tuple[str, str, Fraction, int, int, str | None]:
    """One stated hypothesis of ``<!-- symderiv: assume ... -->``: ``x > 0`` (entrywise positive),
    ``A = A^T`` (symmetric), ``\\mathbf{1}_n^T y = c`` (sums to c), ``X invertible``, ``\\det X > 0``. Anything else is refused with its
    location: a hypothesis the checker does not understand must never be silently ignored."""
    t = " ".join(text.split())
    for kind, form in _HYPOTHESIS_FORMS:
        m = form.match(t)
        if m is None:
            continue
        name = m.group("name") or m.groupdict().get("n2") or m.groupdict().get("n3")
        if kind == "symmetric" and m.group("other") != name:
            continue
        value = Fraction(m.group("value")) if kind == "sums-to" else Fraction(1)
        # the length written on 𝟏 (𝟏_m in 𝟏_mᵀy = 1), checked against y's declared length in its scope
        length = (m.group("len") or m.group("len1")) if kind == "sums-to" else None
        return kind, _plain_name(name), value, line, col, length
    raise ReadError(path, line, col, f"unknown hypothesis {t!r}: symderiv understands x > 0 (entrywise positive), "
                    "A = A^T (symmetric), \\mathbf{1}_n^T y = c (entries sum to c), X invertible and \\det X > 0, "
                    "separated by ';'")


def _plain_name(name: str) -> str:
    """The declared name a hypothesis speaks of: \\epsilon is epsilon, W_{1} is W_1."""
    name = name.lstrip("\\")
    return re.sub(r"_\{\s*(\w+)\s*\}", r"_\1", name)


def _hypotheses(scope: Scope, path: str) -> tuple:
    """The hypotheses in force in ``scope`` (its own and its parents'), as the kernel's objects."""
    out = []
    s: Scope | None = scope
    while s is not None:
        for kind, name, value, line, col, length in s.assumed:
            sym = s.lookup(name)  # the symbol of the hypothesis's own section
            if not isinstance(sym, Sym) or sym.kind != "plain":
                raise ReadError(path, line, col, f"the hypothesis speaks of {name!r}, which is not a declared symbol")
            if _redeclared_below(scope, s, name, sym, (kind, name, value), path, line):
                continue
            defined = _forward_of(scope, name)
            if defined is not None and defined[0].shape == sym.shape:
                # 𝟏ᵀy = 1 with y = Wx in force is a condition on W and x that the kernel cannot state: with y a
                # free symbol a claim about Wx is refuted outside it, expanded the hypothesis says nothing
                raise ReadError(path, line, col, f"the hypothesis speaks of {name}, which a forward definition in "
                                f"force defines ({name} = {plain(defined[1])}); a hypothesis on a defined value is "
                                "not read: state it on the variables it depends on, or name the value differently")
            if length is not None and str(sym.shape[0]) != length:
                # 𝟏_mᵀy with y ∈ R^n does not typeset a condition on y: refused, never read as 𝟏_nᵀy
                raise ReadError(path, line, col, f"the hypothesis sums {name} with a ones vector of length {length}, "
                                f"but {name} has length {sym.shape[0]}")
            try:
                h = Hypothesis(kind, sym, value)  # type: ignore[arg-type]
            except ValueError as exc:
                raise ReadError(path, line, col, str(exc)) from None
            if h in out:
                continue  # restated in a subsection (or twice): the same condition, stated once
            try:
                # two conditions on one symbol, or none satisfiable (y > 0 and 1ᵀy = 0), are refused where
                # they are written: under them every claim would hold vacuously, or none could be checked
                substitution(tuple(out) + (h,))
            except ValueError as exc:
                raise ReadError(path, line, col, str(exc)) from None
            out.append(h)
        s = s.parent
    return tuple(out)


def _redeclared_below(scope: Scope, owner: Scope, name: str, sym: Sym, stated: tuple, path: str, line: int) -> bool:
    """Is the hypothesis on ``name`` (stated in ``owner``) out of force in ``scope`` because a section in
    between declares ``name`` again? With another shape the name is a new variable there, and the
    hypothesis is not about it (True). With the same shape, "Here A ∈ R^{n×n} is any matrix" and a
    reminder of the declaration typeset alike: the symmetric A of the section above would make Ax = Aᵀx
    verify for "any matrix", so this is refused unless the section restates the hypothesis."""
    t: Scope | None = scope
    chain: list[Scope] = []
    while t is not None and t is not owner:
        chain.append(t)
        if name in t.entries:
            here = scope.lookup(name)
            if not isinstance(here, Sym) or here.shape != sym.shape:
                return True
            if any(tuple(a[:3]) == stated for u in chain for a in u.assumed):
                return False
            raise ReadError(path, t.entries[name][0][0], 1, f"{name} is declared again here, below the section "
                            f"that assumes it (line {line}): is it the same {name}, under that hypothesis, or a new "
                            f"one? Restate the hypothesis in this section, or give the new variable another name")
        t = t.parent
    return False


def _pass1(blocks: list[Block], path: str, doc: CheckedDocument) -> list[Scope]:
    root = Scope()
    stack: list[tuple[int, Scope]] = [(0, root)]
    scopes = []
    prev_forward_op: dict[str, tuple[str, int]] = {}
    for b in blocks:
        if b.kind == "heading":
            while stack and stack[-1][0] >= b.level:
                stack.pop()
            scope = Scope(stack[-1][1])
            scope.heading = b.text
            stack.append((b.level, scope))
        scope = stack[-1][1]
        scopes.append(scope)
        if b.kind == "prose" and not b.code:
            # a directive in a `code span` is shown, not stated (a course documenting the syntax)
            for m in _NOTATION_COMMENT.finditer(without_code_spans(b.text)):
                if re.match(r"\s*assume\b", m.group(1)):
                    for part in re.sub(r"^\s*assume\b", "", m.group(1)).split(";"):
                        scope.assumed.append(_parse_hypothesis(part, path, b.line, m.start() + 1))
                    continue
                for part in m.group(1).split(","):
                    if _DELTA_DIRECTIVE.fullmatch(part):
                        continue  # \delta = perturbation: applied to the math before reading (_perturbation_sign)
                    if "=" in part:
                        op, meaning = (x.strip() for x in part.split("=", 1))
                        if op.strip().lstrip("\\") not in ("odot", "otimes", "star", "ast", "circ"):
                            raise ReadError(path, b.line, m.start() + 1, f"'{op.strip()}' cannot be given a meaning; only "
                                            "\\odot, \\otimes, \\star, \\ast and \\circ can")
                        if meaning.lower() not in _OPS:
                            raise ReadError(path, b.line, m.start() + 1, f"unknown operator meaning {meaning!r}; use correlation, convolution or hadamard")
                        _set_operator(root, op, _OPS[meaning.lower()], path, b.line, m.start() + 1, doc, "declared in a comment")
        for ml in b.math:
            self_contained = bool(_SELF_CONTAINED_DEFINITION.search(ml.text))
            if b.kind == "prose" and "\\in" not in ml.text and ":=" not in ml.text and not self_contained:
                continue  # prose math that declares nothing is left as prose
            interp = Interpreter(scope, ml, path)
            try:
                pl = interp.line(read_math(ml, path))
            except ReadError as exc:
                # one line that cannot be parsed fails at its position; the rest of the document is read
                _declaration_problem(doc, b, ml, exc.line, exc.col, exc.message)
                continue
            if self_contained:
                operands = _self_contained_operands(pl, interp)
                if operands is not None:
                    op_tok, names = operands
                    meaning = _operator_from_definition(pl, interp, names)
                    if meaning:
                        doc.operator_definitions.add((ml.line, ml.col))
                        _set_operator(root, op_tok, meaning, path, ml.line, ml.col, doc,
                                      f"defined by the index formula at line {ml.line}")
                    continue
            try:
                if "∈" in pl.rels:
                    _declare(interp, pl, scope, path, doc)
                elif pl.rels[:1] == [":="] and isinstance(pl.items[0], S.Word):
                    _declare(interp, pl, scope, path, doc)  # an alias: dy := \frac{dL}{dy}
            except (LineError, ReadError) as exc:
                # a malformed declaration fails at its position; the lines that use what it declares are
                # reported as depending on it (see _line_problem), the rest of the document is checked
                _declaration_problem(doc, b, ml, exc.line, exc.col, exc.message)
                continue
            except RecursionError:
                _declaration_problem(doc, b, ml, ml.line, ml.col, "declaration nested too deeply")
                continue
            if b.kind == "math":
                op = _forward_operator(pl)
                if op:
                    prev_forward_op["last"] = (op, ml.line)
                    t = pl.items[1]
                    assert isinstance(t, S.SeqOp)  # as _forward_operator found it
                    prev_forward_op["operands"] = (declared_name(interp, t.left), declared_name(interp, t.right))
                if pl.rels[:1] == [":="] and isinstance(pl.items[0], S.Subscript) and "last" in prev_forward_op:
                    meaning = _operator_from_definition(pl, interp, prev_forward_op.get("operands"))
                    if meaning:
                        op_tok, op_line = prev_forward_op["last"]
                        doc.operator_lines.add(op_line)
                        _set_operator(root, op_tok, meaning, path, ml.line, ml.col, doc,
                                      f"defined by the index formula at line {ml.line}")
    return scopes


# the name on the left of a declaration as written (x, W_1, \hat{y}, \mathbf{W}_{1}), for messages only
_DECLARED_TEXT = re.compile(r"^\s*((?:\\[A-Za-z]+\s*\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z]+)(?:\s*_\s*(?:\{[^{}]*\}|\w))?)\s*"
                            r"(?:\\in(?![A-Za-z])|:=)")


def _written_name(text: str) -> str | None:
    """The declared name as later lines write it: W_{1} as W_1, \\mathbf{x} as x."""
    m = _DECLARED_TEXT.match(text)
    if m is None:
        return None
    name = re.sub(r"\s+", "", m.group(1))
    name = re.sub(r"_\{(\w+)\}", r"_\1", name)
    return re.sub(r"\\(?:mathbf|boldsymbol|bm)\{(\w+)\}", r"\1", name)


def _declaration_problem(doc: CheckedDocument, b: Block, ml: MathLine, line: int, col: int, message: str) -> None:
    """A declaration (or any math line read while collecting declarations) that cannot be read fails
    at its position, once; the name it meant to declare is remembered so that the lines using it
    point here instead of repeating "unknown symbol"."""
    doc.unreadable[(ml.line, ml.col)] = (line, col, message)
    name = _written_name(ml.text)
    if b.kind == "math" and name is None:
        return  # a display line: reported where pass 2 reads it, in its derivation
    if name is not None:
        doc.failed_declarations.setdefault(name, (line, col))
    s = ClaimStep(None, None, "problem", None, "", line)
    what = f"the declaration of {name}" if name else "this math"
    s.verdict = ill_formed(f"{what} cannot be read: {message}", "reading the line")
    s.col = col
    s.text_override = s.raw = ml.text.strip()
    doc.claims.append(Claim(f"line {line} (declaration)", [s]))


# "(x \odot w)_i = \sum_j x_{i+j} w_j": an operator defined by its own index formula, in prose or display
_SELF_CONTAINED_DEFINITION = re.compile(r"^\s*\(.*\\(odot|otimes|star|ast|circ)(?![a-zA-Z]).*\)\s*_.*(=|:=)")


def _self_contained_operands(pl: ParsedLine, interp: Interpreter):
    """For ``(a ⋆ b)_i = Σ_j ...`` (or ``:=``): the operator token and the operand names, else None."""
    if len(pl.items) != 2 or pl.rels[:1] not in (["="], [":="]) or pl.lead is not None:
        return None
    lhs = pl.items[0]
    if not isinstance(lhs, S.Subscript):
        return None
    base = lhs.base
    while isinstance(base, S.Group) or (isinstance(base, S.Paren) and len(base.items) == 1):
        base = base.body if isinstance(base, S.Group) else base.items[0]
    if not isinstance(base, S.SeqOp):
        return None
    names = (declared_name(interp, base.left), declared_name(interp, base.right))
    return base.op, names


def _set_operator(root: Scope, op: str, meaning: str, path: str, line: int, col: int, doc, how: str) -> None:
    op = op if op.startswith("\\") else "\\" + op.lstrip("\\")
    old = root.operators.get(op)
    if old and old != meaning:
        raise ReadError(path, line, col, f"{op} was already defined as {old}; a second, different definition ({meaning}) is ambiguous")
    root.operators[op] = meaning
    if not old:
        names = {"corr": "correlation (x ⊙ w)_i = Σ_j x_{i+j} w_j", "conv": "convolution (x ⊗ w)_i = Σ_j x_{i−j} w_j",
                 "hadamard": "entrywise (Hadamard) product"}
        doc.definitions.append({"operator": op, "meaning": meaning, "text": f"{op} is {names[meaning]}, {how}", "line": line})


def _declare(interp: Interpreter, pl: ParsedLine, scope: Scope, path: str, doc: CheckedDocument | None = None) -> None:
    """x \\in R^n; dy := \\frac{dL}{dy} \\in R^m; L \\in R. Each takes effect from its line."""
    items, rels = pl.items, pl.rels
    for i, rel in enumerate(rels):
        if rel == "∈":
            dims = parse_space(interp, items[i + 1])
            if dims is None:
                raise ReadError(path, *interp.where(items[i + 1]), "expected a space such as \\mathbf{R}^n after \\in")
            # the name is the first item (x ∈ ...) or an alias chain dy := dL/dy ∈ ...
            name = declared_name(interp, items[0])
            if name is None:
                raise ReadError(path, *interp.where(items[0]), "expected a symbol name before \\in, such as x or y^*")
            if i > 0 and rels[0] == ":=":
                continue  # the alias below carries the shape of the derivative
            if re.fullmatch(r"[A-Za-z]+", name) and any(len(sp) > 1 for sp in segmentations(name, scope.names())):
                # "so that AB ∈ R^{n×n}": a statement about the product A·B, never a new symbol named AB
                prod = interp.expr(items[0])
                want = Sym("Z", *dims).shape
                if prod.shape != want:
                    raise ReadError(path, *interp.where(items[0]), f"{plain(prod)} is {_dim(prod.shape[0])}×"
                                    f"{_dim(prod.shape[1])}, not {_dim(want[0])}×{_dim(want[1])} as stated")
                continue
            try:
                sym = Sym(name, *dims)
            except SymderivError as exc:
                raise ReadError(path, *interp.where(items[i + 1]), f"bad declaration of {name}: {exc}") from None
            _define(scope, name, sym, interp, doc)
    if rels and rels[0] == ":=":
        name = declared_name(interp, items[0])
        if name is None:
            return
        try:
            value = interp.expr(items[1])
        except LineError as exc:
            # an alias whose right side needs a symbol not declared yet (or not at all) is reported here;
            # silently left undefined, every use said "unknown symbol" with no pointer to this line
            raise ReadError(path, exc.line, exc.col, f"the alias {name} := ... uses what is not declared before it: {exc.message}") from None
        _define(scope, name, value, interp, doc)


def _define(scope: Scope, name: str, value, interp: Interpreter, doc) -> None:
    """Record a declaration; a second declaration of a name in the same section with another
    meaning is reported at its line (the earlier lines keep the meaning they were read with)."""
    line = interp.ml.line
    old = scope.entries.get(name)
    if old and doc is not None:
        prev_line, prev = old[-1]
        if _meaning(prev) != _meaning(value):
            s = ClaimStep(None, None, "problem", None, "", line)
            s.verdict = ill_formed(method="reading the declarations",
                                reason=f"{name} is redefined: it meant {_show_meaning(prev)} since line {prev_line} and now "
                                f"means {_show_meaning(value)}; use a new name (earlier lines keep the first meaning)")
            s.col = interp.ml.col
            s.text_override = s.raw = interp.ml.text.strip()
            doc.claims.append(Claim(f"line {line} (redefinition of {name})", [s]))
    scope.define(name, value, line)


def _meaning(v):
    return v.key() if isinstance(v, Expr) else repr(v)


def _show_meaning(v) -> str:
    if isinstance(v, Sym) and v.kind == "plain":
        r, c = v.shape
        return "a scalar" if v.is_scalar else f"a {r}×{c} matrix" if c != 1 else f"a vector of R^{r}"
    return plain(v) if isinstance(v, Expr) else str(v)


def _forward_operator(pl: ParsedLine) -> str | None:
    if len(pl.items) >= 2 and pl.lead is None and pl.rels[:1] == ["="]:
        t = pl.items[1]
        if isinstance(t, S.SeqOp):
            return t.op
    return None



def _operator_from_definition(pl: ParsedLine, interp: Interpreter, operands=None) -> str | None:
    """y_i := Σ_j x_{i+j} w_j is correlation; x_{i-j} w_j is convolution (by the index pattern)."""
    lhs = pl.items[0]
    assert isinstance(lhs, S.Subscript)  # both callers checked it
    i_var = affine_of(lhs.sub.arg)
    rhs = pl.items[1]
    factors: list[S.Syntax] = []

    def walk(t: S.Syntax) -> None:
        if isinstance(t, S.Juxt):
            walk(t.left)
            walk(t.right)
        else:
            factors.append(t)

    walk(rhs)
    sums = [f for f in factors if isinstance(f, S.SumSign) or isinstance(f, S.Subscript) and isinstance(f.base, S.SumSign)]
    idx = [f for f in factors if isinstance(f, S.Subscript) and isinstance(f.base, S.Word)]
    if not i_var or len(idx) != 2 or len(sums) != 1:
        raise ReadError(interp.path, interp.ml.line, interp.ml.col,
                        "an operator definition must look like y_i := \\sum_j x_{i+j} w_j or y_i := \\sum_j x_{i-j} w_j")
    (i,) = [k for k in i_var if k != 1]
    a, b = (affine_of(f.sub.arg) for f in idx)
    sumop = sums[0] if isinstance(sums[0], S.SumSign) else sums[0].base
    j = sumop.index.text  # \sum_j and \sum_{j} name the same index
    if a is None or b is None or j is None:
        raise ReadError(interp.path, interp.ml.line, interp.ml.col,
                        "the indices of this operator definition must be sums of index names and numbers, as in x_{i+j} w_j")
    names = [declared_name(interp, f.base) for f in idx]
    for (first, second), (shifted, plain_) in (((a, b), (names[0], names[1])), ((b, a), (names[1], names[0]))):
        if second == {j: 1} and first.get(i) == 1 and first.get(j) in (1, -1) and not first.get(1):
            if first[j] == 1 and operands and None not in operands and (shifted, plain_) != tuple(operands):
                # correlation is not symmetric: Σ_j w_{i+j} x_j for x ⊙ w is Corr(w, x), not what ⊙ denotes here
                raise ReadError(interp.path, interp.ml.line, interp.ml.col,
                                f"this correlation shifts {shifted}, but the line before writes {operands[0]} first "
                                f"({operands[0]} ⊙ {operands[1]}); symderiv's correlation is (x ⊙ w)_i = Σ_j x_{{i+j}} w_j "
                                f"with the left operand shifted: write y_i := \\sum_j {operands[0]}_{{i+j}} {operands[1]}_j")
            return "corr" if first[j] == 1 else "conv"
    raise ReadError(interp.path, interp.ml.line, interp.ml.col,
                    "this index formula is neither a correlation (x_{i+j} w_j) nor a convolution (x_{i-j} w_j)")


# ---------------------------------------------------------------------------------------
# pass 2: roles of display lines
# ---------------------------------------------------------------------------------------
@dataclass
class _State:
    heading: str = "document"
    forward: dict = field(default_factory=dict)  # output name -> (Sym, Expr)
    derivation: Derivation | None = None
    claim: Claim | None = None
    #: the last display line could not be read: a line continuing it ("= ...", "⇒ ...") has nothing
    #: checked to continue from, and must never be compared with an earlier chain instead
    after_unreadable: bool = False
    #: forward definitions read so far, (output, f, line, col): one that no derivation uses is reported
    defined: list = field(default_factory=list)
    #: forward definitions of intermediates substituted into a derivation's forward (name, plain f)
    used: set = field(default_factory=set)


def _pass2(blocks: list[Block], scopes: list[Scope], path: str, doc: CheckedDocument) -> None:
    st = _State()
    for b, scope in zip(blocks, scopes):
        hyps = _hypotheses(scope, path)
        for ml in b.math:
            if hyps:
                doc.hypotheses_at[ml.line] = hyps
        if b.kind == "heading":
            st.heading, st.derivation, st.claim = b.text, None, None
            st.after_unreadable = False
            continue
        if b.kind == "prose" and not b.code:
            for ml in b.math:
                if _inline_assertion(ml) and (ml.line, ml.col) not in doc.operator_definitions:
                    # an equation in running text is an assertion too: never silently dropped
                    s = ClaimStep(None, None, "problem", None, "", ml.line)
                    s.verdict = undecided("not checked", reason="an equation in inline math is not checked; "
                                        "write it as display math ($$ ... $$) to have it checked")
                    s.col = ml.col
                    s.text_override = s.raw = ml.text.strip()
                    doc.claims.append(Claim(f"line {ml.line} ({st.heading})", [s]))
        if b.kind != "math":
            continue
        for ml in b.math:
            if (ml.line, ml.col) in doc.operator_definitions:
                continue  # an operator's own index formula was read in pass 1: a definition, not a claim
            if (ml.line, ml.col) in doc.unreadable:
                if _written_name(ml.text) is None:
                    # a display line that cannot be read fails at its position, in its derivation
                    _line_problem(doc, st, ml, *doc.unreadable[(ml.line, ml.col)])
                continue  # a declaration that cannot be read was reported in pass 1
            if ml.note and NEGATING_NOTE.search(ml.note):
                _line_problem(doc, st, ml, ml.line, ml.col or 1,
                              f"the note '{ml.note.strip()}' may deny the equation before it, so the line is not read "
                              "as asserting the equation; write the equation without the note (or with \\neq), and "
                              "the remark in the prose")
                continue
            if st.derivation is None and CONDITION_NOTE.match(ml.note):
                # "AB = BA \quad \text{if } B = A": the hypothesis is not assumed, so the bare equation is
                # neither verified nor refuted (a counterexample could violate the hypothesis)
                s = ClaimStep(None, None, "problem", None, ml.note, ml.line)
                s.verdict = undecided("not checked", reason=f"a condition ('{ml.note}') is not assumed: the "
                                      "equation is not checked under it")
                s.col = ml.col
                s.text_override = s.raw = ml.text.strip()
                doc.claims.append(Claim(f"line {ml.line} ({st.heading})", [s]))
                continue
            interp = Interpreter(scope, ml, path)
            pl = interp.line(read_math(ml, path))
            if "∈" in pl.rels:
                # x ∈ R^n was handled in pass 1; s = xᵀAx = 2xᵀAx ∈ R also asserts what stands before ∈
                k = pl.rels.index("∈")
                pl = ParsedLine(pl.lead, pl.items[:k + 1], pl.rels[:k], pl.cols[:k + 1], pl.ml)
                if not pl.rels or (pl.rels[0] == ":=" and len(pl.items) == 2):
                    continue
            elif pl.rels[:1] == [":="] and isinstance(pl.items[0], (S.Subscript, S.Word)) and len(pl.items) == 2:
                continue  # aliases and operator definitions were handled in pass 1
            try:
                if ml.line in doc.operator_lines:
                    # "y = x \odot w" introducing an operator definition: it is the forward definition only
                    # when the section has none yet (never a restatement to check)
                    try:
                        vals = _values(pl, interp)
                    except LineError:
                        continue
                    if isinstance(vals[0], Sym) and _forward_of(scope, vals[0].name) is None and isinstance(vals[-1], Expr):
                        if vals[-1].shape != vals[0].shape:
                            f = vals[-1]
                            raise LineError(ml.line, pl.cols[-1], f"the forward definition is {_dim(f.shape[0])}×{_dim(f.shape[1])} "
                                            f"but {vals[0].name} is declared {_dim(vals[0].shape[0])}×{_dim(vals[0].shape[1])}")
                        # not reported when unused: with the index formula after it, the line defines
                        # the operator, which is true by that definition
                        _set_forward(scope, vals[0], vals[-1])
                    continue
                pl = _without_alias(pl)
                implication = False
                while "⇒" in pl.rels:  # each ⇒ splits the line ("ΔL = … ⇒ dL/dx = G ⇒ dL/dx = G'", as on lines of their own)
                    k = pl.rels.index("⇒")
                    if st.derivation is None and not _starts_a_derivation(pl, k, interp, scope):
                        # "AB = BA ⇒ BA = AB" asserts an implication, not its hypothesis: not checked
                        s = ClaimStep(None, None, "problem", None, ml.note, ml.line)
                        s.verdict = undecided("not checked", reason="an implication between equations is not "
                                            "checked (its hypothesis is not assumed); write each equation on its own line")
                        s.col = ml.col
                        s.text_override = s.raw = ml.text.strip()
                        doc.claims.append(Claim(f"line {ml.line} ({st.heading})", [s]))
                        implication = True
                        break
                    # inside a derivation: "... = ⟨G, Δx⟩ ⇒ dL/dx = G" is the chain, then the read-off
                    head = ParsedLine(pl.lead, pl.items[:k + 1], pl.rels[:k], pl.cols[:k + 1], pl.ml)
                    tail = ParsedLine("⇒", pl.items[k + 1:], pl.rels[k + 1:], pl.cols[k + 1:], pl.ml)
                    if head.rels or head.lead:
                        head = _differential_line(head, interp, ml)
                        _role(head, interp, scope, st, doc, ml)
                        st.after_unreadable = False  # the read-off follows the head, which was read
                    pl = _without_alias(tail)
                if implication:
                    continue
                interp.differentials = False
                pl = _differential_line(pl, interp, ml)
                _refuse_ambiguous_delta_runs(pl, interp, scope, st, ml)
                n_claims, n_derivations = len(doc.claims), len(doc.derivations)
                steps_before = {id(c): len(c.steps) for c in doc.claims}
                _role(pl, interp, scope, st, doc, ml)
                for owner in doc.claims[n_claims:] + doc.derivations[n_derivations:]:
                    owner.scope = scope  # the forward definitions its gradient symbols are related by
                _expand_defined_values(doc.claims, steps_before, scope, ml)
            except LineError as exc:
                _line_problem(doc, st, ml, exc.line, exc.col, exc.message)
            except ReadError:
                raise
            except SymderivError as exc:
                # a shape mismatch found while building a derivation: a failed line, not an unreadable file
                _line_problem(doc, st, ml, ml.line, ml.col, str(exc))
            except RecursionError:
                _line_problem(doc, st, ml, ml.line, ml.col, "expression nested too deeply to read")
            else:
                st.after_unreadable = False
    _report_unused_definitions(st, doc)


def _declared_at(scope: Scope, name: str, line: int) -> bool:
    """Is ``name`` declared on ``line`` (in this section or an enclosing one)?"""
    s: Scope | None = scope
    while s is not None:
        if any(at == line for at, _ in s.entries.get(name, ())):
            return True
        s = s.parent
    return False


def _report_unused_definitions(st: _State, doc: CheckedDocument) -> None:
    """A forward definition ``X = f`` that no derivation uses is reported, undecided: it was never
    checked, and a false ``A = Bᵀ`` between declared symbols must not pass silently as a definition."""
    for out, f, line, col in st.defined:
        if any(d.output.name == out.name and plain(d.forward) == plain(f) for d in doc.derivations):
            continue
        if any((out.name, plain(f)) in d.constants and
               any(out.name in {x.name for x in e.symbols()} for stp in d.steps for e in (stp.lhs, stp.rhs)
                   if isinstance(e, Expr))
               for d in doc.derivations):
            continue  # its value is expanded in a derivation's steps that name it
        if (out.name, plain(f)) in st.used:
            continue
        s = ClaimStep(None, None, "problem", None, "", line)
        s.verdict = undecided("not checked", reason=f"this line defines {out.name} = {plain(f)}, but no derivation "
                              f"uses it (no Δ{out.name} = ... follows), so nothing was checked; if it is meant as a "
                              f"claim, write the expression first ({plain(f)} = {out.name})")
        s.col = col
        s.text_override = s.raw = f"{plain(out)} = {plain(f)}"
        doc.claims.append(Claim(f"unused forward definition of {out.name} (line {line})", [s]))


def _inline_assertion(ml: MathLine) -> bool:
    """Does inline math assert an equation (beyond declaring a symbol or an alias)? ``$s = x^T A x \\in
    \\mathbf{R}$`` does; ``$x \\in \\mathbf{R}^n$`` and ``$dy := \\frac{dL}{dy} \\in \\mathbf{R}^m$`` do not."""
    head = re.split(r"\\in(?![a-zA-Z])", ml.text, maxsplit=1)[0]  # what stands before the first \in
    if ":=" in head:
        head = head.split(":=", 1)[1]  # an alias' own := is a definition
    return has_relation(head)


def _through_intermediates(scope: Scope, f: Expr, wrt: Sym, st: _State, depth: int = 8, line: int = 0,
                           col: int = 0) -> tuple[Expr, dict]:
    """The chain rule across named intermediates (part F): every symbol of f whose forward definition
    depends on the perturbed variable, directly or through other intermediates (h = relu(W₁x + b₁)
    in y = W₂h + b₂ for Δx), is replaced by its definition, until none is left. By Lemma S the
    composite has the value of the layers in sequence, so a derivation against it checks the
    author's steps against the true composite function. All such symbols are replaced, also when
    the variable already occurs in f: in a residual block y = Wh + x with h = relu(x), stopping at
    the x of "+ x" would treat h as a constant and verify dL/dx = dL/dy. Returns the composite and
    the definitions substituted (name -> definition, fully expanded), which the derivation also
    expands in the author's steps (an intermediate there means its value)."""
    used: dict[str, Expr] = {}
    for _ in range(depth):
        mapping = {}
        for x in f.symbols():
            known = _forward_of(scope, x.name)
            if known is not None and x.name != wrt.name and _depends_on(scope, known[1], wrt.name, depth):
                mapping[x.name] = known[1]
                st.used.add((x.name, plain(known[1])))
        if not mapping:
            for _ in range(depth):  # each definition written with the others expanded
                used = {k: substitute(v, used) for k, v in used.items()}
            return f, used
        used.update(mapping)
        f = substitute(f, mapping)
    raise LineError(line, col, f"the forward definitions leading to {plain(wrt)} nest deeper than {depth} "
                    "levels (or refer to each other); the chain rule through them is not followed")


def _expand_defined_values(claims: list, steps_before: dict, scope: Scope, ml: MathLine) -> None:
    """The claim steps this line added mean the values defined in force (S = A + Aᵀ before
    xᵀSx = 2xᵀAx): read as free symbols, a true claim would be "refuted" where S ≠ A + Aᵀ."""
    new = [s for c in claims for s in c.steps[steps_before.get(id(c), 0):]
           if s.verdict is None and isinstance(s.rhs, Expr)]
    if not new:
        return
    values = _defined_values(scope, Ones(1, 1), Ones(1, 1), Ones(1, 1), {}, ml.line, ml.col)
    for s in new:
        names = {x.name for e in (s.rhs, s.lhs, s.value_left) if isinstance(e, Expr) for x in e.symbols()}
        used = {k: v for k, v in values.items() if k in names}
        if used:
            s.defined = values


def _defined_values(scope: Scope, f: Expr, wrt: Sym, out: Sym, intermediates: dict, line: int, col: int,
                    depth: int = 8) -> dict[str, Expr]:
    """The forward definitions in force whose names the composite ``f`` does not mention (and that are
    neither the variable, the output nor an intermediate already substituted), each written with the
    others expanded: name -> value."""
    found: dict[str, Expr] = {}
    s: Scope | None = scope
    while s is not None:
        for name, (_sym, body) in s.forwards.items():
            if name not in found:  # the innermost definition of a name is the one in force
                found[name] = body
        s = s.parent
    skip = {x.name for x in f.symbols()} | {x.name for x in (wrt, out) if isinstance(x, Sym)} | set(intermediates)
    # a symbol under a stated hypothesis (𝟏ᵀy = 1 with y = Wx) stays a symbol: expanded, the hypothesis
    # would constrain nothing, and a counterexample could violate it
    t: Scope | None = scope
    while t is not None:
        skip |= {a[1] for a in t.assumed}
        t = t.parent
    values = {k: v for k, v in found.items() if k not in skip}
    for _ in range(depth):
        expanded = {k: substitute(v, values) for k, v in values.items()}
        if all(plain(expanded[k]) == plain(values[k]) for k in values):
            return values
        values = expanded
    raise LineError(line, col, f"the forward definitions in force nest deeper than {depth} levels (or refer to "
                    "each other)")


def _depends_on(scope: Scope, f: Expr, name: str, depth: int) -> bool:
    """Does ``f`` mention ``name``, directly or through forward definitions (at most ``depth`` deep)?"""
    if depth < 0:
        return True  # too deep to tell: treat as dependent, and the caller refuses
    for x in f.symbols():
        if x.name == name:
            return True
        known = _forward_of(scope, x.name)
        if known is not None and _depends_on(scope, known[1], name, depth - 1):
            return True
    return False


def _forward_of(scope: Scope, name: str):
    s = scope
    while s is not None:
        f = s.forwards.get(name)
        if f:
            return f
        s = s.parent
    return None


def _set_forward(scope: Scope, out: Sym, f: Expr) -> None:
    """A forward definition belongs to its section and the section's subsections. A section
    whose heading says it is the forward pass ("Forward pass") feeds its sibling sections too
    (the notes derive in "Backward pass" from "Forward pass"), never beyond its parent section. The
    word is matched as a word: "Straightforward variant" is not a forward pass."""
    targets = [scope]
    if re.search(r"\bforward\b", scope.heading.lower()) and scope.parent is not None and scope.parent.parent is not None:
        targets.append(scope.parent)
    for s in targets:
        s.forwards[out.name] = (out, f)


def _input_of_forward(scope: Scope, name: str) -> bool:
    """Is ``name`` a variable of a forward definition visible here (x in y = Wx)?"""
    s = scope
    while s is not None:
        for _out, f in s.forwards.values():
            if name in {x.name for x in f.symbols()}:
                return True
        s = s.parent
    return False


def _dim(d) -> str:
    return "∞" if d is sympy.oo else str(d)


_DELTA_RUN = re.compile(r"\\Delta\s*[A-Za-z]{2,}")


def _refuse_ambiguous_delta_runs(pl: ParsedLine, interp: Interpreter, scope: Scope, st: _State,
                                 ml: MathLine) -> None:
    """``\\Delta AB`` is read as (ΔA)B. That equals Δ(AB) = (ΔA)B + A(ΔB) + (ΔA)(ΔB) only when A is the
    perturbed variable (of the open derivation, or of this perturbation line Δy = ... of a forward
    definition) and B does not contain it; otherwise the run has two readings and is refused."""
    if not _DELTA_RUN.search(ml.text):
        return
    try:
        vals = _values(pl, interp)  # fills interp.delta_runs; a bad line is reported by _role as before
    except (LineError, SymderivError, RecursionError):
        return
    wrt = st.derivation.wrt.name if st.derivation is not None else None
    first = vals[0] if pl.lead is None and vals else None
    if isinstance(first, Sym) and first.kind == "delta" and _forward_of(scope, first.name[1:]) is not None:
        wrt = None  # a new perturbation line: its variable is the one perturbed on the right
        forward = _forward_of(scope, first.name[1:])[1]
        forward_names = {s.name for s in forward.symbols()}
    else:
        forward_names = None
    for line, col, text, name, rest in interp.delta_runs:
        ok = name not in rest and (name == wrt if forward_names is None else name in forward_names)
        if not ok:
            raise LineError(line, col, f"ambiguous: '\\Delta {text}' can be read as \\Delta({text}) or as a "
                            f"perturbed first factor times the rest; write \\Delta({text}) or "
                            f"(\\Delta {name}) {text[len(name):]}")


def _differential_line(pl: ParsedLine, interp: Interpreter, ml: MathLine) -> ParsedLine:
    """A line written with differentials (dL = (x - t)^T dx, \\mathrm{d}L = ...): the differentials are read
    as perturbations, and each '=' as equality to first order (≈), which is what an equation between
    differentials states. Every side must be linear in the differentials: dx^T dx, or exp(dx), is
    not a differential expression, and such a line is refused rather than compared to first order."""
    values = _values(pl, interp)
    if not interp.differentials:
        return pl
    for v, col in zip(values, pl.cols):
        if isinstance(v, Expr) and delta_degree(v) > 1:
            raise LineError(ml.line, col, "a side written with differentials must be linear in them (a product of "
                            "two differentials, or one inside a function, is not a differential); write \\Delta x "
                            "and \\approx to keep higher-order terms")
    rel = lambda r: "≈" if r == "=" else r  # noqa: E731
    return ParsedLine(rel(pl.lead) if pl.lead else None, pl.items, [rel(r) for r in pl.rels], pl.cols, pl.ml)


def _values(pl: ParsedLine, interp: Interpreter) -> list:
    out = []
    for t in pl.items:
        v = interp.value(t)
        if isinstance(v, list):
            v = interp.product(v, t)
        if not isinstance(v, (Expr, Fraction, FuncApp, IndexNotation, IndexSum)):
            v = interp.as_expr(v, t)  # a helper value (a word, a bare norm, ...): an expression, or a located error
        out.append(v)
    return out


def _without_alias(pl: ParsedLine) -> ParsedLine:
    """``dx := dL/dx = G`` (also after ⇒) as ``dL/dx = G``: the short name the author gives the gradient
    is not part of the equation."""
    if pl.rels[:1] == [":="] and isinstance(pl.items[0], S.Word):
        return ParsedLine(pl.lead, pl.items[1:], pl.rels[1:], pl.cols[1:], pl.ml)
    return pl


def _starts_a_derivation(pl: ParsedLine, k: int, interp: Interpreter, scope: Scope) -> bool:
    """Whether the part of a line before its ⇒ at relation ``k`` is a perturbation line ΔL = … of a
    forward definition in scope: "ΔL = ⟨x − t, Δx⟩ ⇒ dL/dx = x − t" on one line is then the two lines
    ΔL = ⟨x − t, Δx⟩ and ⇒ dL/dx = x − t, each checked (never the implication alone)."""
    if pl.lead is not None or k == 0:
        return False
    try:
        first = _values(ParsedLine(None, pl.items[:1], [], pl.cols[:1], pl.ml), interp)[0]
    except (LineError, SymderivError):
        return False
    return isinstance(first, Sym) and first.kind == "delta" and _forward_of(scope, first.name[1:]) is not None


def _role(pl: ParsedLine, interp: Interpreter, scope: Scope, st: _State, doc: CheckedDocument, ml: MathLine) -> None:
    vals = _values(pl, interp)
    first = vals[0]
    d = st.derivation
    note = ml.note

    # restated or new forward definition: y = f. Not when y occurs on the right or is a variable of a
    # forward definition in force: then "y = ..." is an identity claim about a declared symbol.
    if pl.lead is None and isinstance(first, Sym) and first.kind == "plain" and pl.rels and pl.rels[0] == "=" \
            and not any(isinstance(v, Expr) and v.has_delta() for v in vals[1:]) \
            and not any(isinstance(v, Expr) and first.name in {x.name for x in v.symbols()} for v in vals[1:]) \
            and not _input_of_forward(scope, first.name):
        known = _forward_of(scope, first.name)
        if not isinstance(vals[1], Expr):
            raise LineError(ml.line, pl.cols[1], "a definition needs a matrix expression on the right: " + _why_not_expr(vals[1]))
        if known is None:
            f = vals[1]
            if f.shape != first.shape:
                raise LineError(ml.line, pl.cols[1], f"the forward definition is {f.shape[0]}×{f.shape[1]} but "
                                f"{first.name} is declared {first.shape[0]}×{first.shape[1]}")
            _set_forward(scope, first, f)
            st.derivation, st.claim = None, None
            doc.definitions.append({"line": ml.line, "text": f"forward definition {plain(first)} = {plain(f)}",
                                    "latex": f"{latex(first)} = {latex(f)}"})
            if not _declared_at(scope, first.name, ml.line):
                # "s = xᵀAx ∈ R" names a new value on its own line: a definition; "A = Bᵀ" of a
                # symbol declared before constrains it, and is reported when nothing derives from it
                st.defined.append((first, f, ml.line, ml.col))
            if len(vals) > 2:
                # y = Wx = Wᵀx: every later right side is checked against the definition
                claim = Claim(f"forward definition of {first.name} written as a chain ({st.heading})")
                for v, rel in zip(vals[2:], pl.rels[1:]):
                    step = _claim_step(f, v, ml, note or "the definition, written another way", rel,
                                       budget=doc.budget.kernel)
                    step.lhs = first
                    claim.steps.append(step)
                doc.claims.append(claim)
            return
        st.derivation = None
        claim = Claim(f"restatement of the forward definition of {first.name} ({st.heading})")
        for v, rel in zip(vals[1:], pl.rels):
            step = _claim_step(known[1], v, ml, "restatement of the forward definition", rel, budget=doc.budget.kernel)
            step.lhs = first  # shown as y = ..., compared with the known definition
            claim.steps.append(step)
        doc.claims.append(claim)
        st.claim = None
        return

    if pl.lead is None and isinstance(first, Sym) and first.kind == "delta":
        base = first.name[1:]
        known = _forward_of(scope, base)
        if known is not None:
            out, f = known
            deltas = sorted({s.name for v in vals[1:] if isinstance(v, Expr) for s in v.symbols()
                             if s.kind == "delta" and s.name != first.name})
            same_variable = deltas in ([], [d.delta_wrt.name]) if d is not None else False
            read_off = d is not None and any(s.kind == "readoff" for s in d.steps)
            if d is not None and d.output.name == base and d.is_loss and same_variable and not read_off:
                # a loss layer restating its chain: Δy = ... again
                for v in vals[1:]:
                    d.eq(v, lhs=first, line=ml.line, note=note)
                return
            if len(deltas) != 1:
                raise LineError(ml.line, ml.col, "cannot tell which variable is perturbed: expected exactly one "
                                f"Δ symbol on the right, found {', '.join(deltas) or 'none'}")
            wrt = scope.lookup(deltas[0][1:])
            written = f
            intermediates: dict = {}
            if isinstance(wrt, Sym):
                f, intermediates = _through_intermediates(scope, f, wrt, st, line=ml.line, col=ml.col)
            if not isinstance(wrt, Sym) or wrt.name not in {s.name for s in f.symbols()}:
                raise LineError(ml.line, ml.col, f"{deltas[0]} perturbs {deltas[0][1:]}, which does not occur in "
                                f"the forward definition {plain(out)} = {plain(f)}")
            st.used.add((out.name, plain(written)))  # checked through its composite
            is_loss = out.is_scalar  # until a ΔL line for another loss says otherwise
            d = Derivation(f"{st.heading}: d{'L' if not is_loss else plain(out)}/d{plain(wrt)}", out, f, wrt, is_loss=is_loss,
                           name=st.heading)
            d.hypotheses = _hypotheses(scope, doc.path)
            # in the author's steps the output and the substituted intermediates stand for their values
            # (y means f(x), not a free symbol): every check expands them (Derivation.abbreviate)
            for name, body in intermediates.items():
                sym = scope.lookup(name)
                if isinstance(sym, Sym):
                    d.abbreviations.append((sym, body))
            d.abbreviations.append((out, f))
            # a value defined in scope that the composite does not contain (S = A + Aᵀ, g = W₂ᵀ dL/dy)
            # means that value in the author's steps too; read as a free symbol, a true step would be
            # "refuted" at a point where S ≠ A + Aᵀ. Expanded first (appended last: unfold goes backwards).
            for name, body in _defined_values(scope, f, wrt, out, intermediates, ml.line, ml.col).items():
                sym = scope.lookup(name)
                if isinstance(sym, Sym) and sym.shape == body.shape:
                    d.abbreviations.append((sym, body))
                    d.constants.add((name, plain(_forward_of(scope, name)[1])))
            d.heading = st.heading
            d.mode = None
            d.perturb(vals[1], line=ml.line, note=note)
            d.steps[-1].approx = pl.rels[0] == "≈"  # Δy ≈ …: the definition holds to first order
            for v in vals[2:]:
                d.eq(v, line=ml.line, note=note)
            doc.derivations.append(d)
            st.derivation, st.claim = d, None
            return
        loss = scope.lookup(base)
        has_diff = d is not None and any(s.kind == "define" and s.lhs is not None and s.lhs.name == d.delta_loss.name
                                         and not d.is_loss for s in d.steps)
        if (d is not None and isinstance(loss, Sym) and loss.is_scalar and loss.name != d.output.name
                and (d.is_loss or d.loss != loss.name) and not has_diff
                and not any(s.kind == "readoff" for s in d.steps)):
            # the loss is named by this line (ΔL, Δℓ, ...); a scalar output is then an intermediate value
            d.use_upstream_gradient(loss.name)
        if d is not None and not d.is_loss and isinstance(loss, Sym) and loss.is_scalar:
            has_diff = any(s.kind == "define" and isinstance(s.lhs, Sym) and s.lhs.name == first.name
                           for s in d.steps)
            if not has_diff:
                d.loss_differential(vals[1], line=ml.line, note=note)
                d.steps[-1].approx = pl.rels[0] == "≈"
                rest = vals[2:]
            else:
                rest = vals[1:]
                d.eq(rest[0], lhs=d.delta_loss, line=ml.line, note=note)
                rest = rest[1:]
            for v in rest:
                d.eq(v, line=ml.line, note=note)
            return

    if pl.lead in ("=", "≈"):
        if d is not None:
            for k, v in enumerate(vals):
                if isinstance(v, _NOT_CHECKED):
                    claim = Claim(f"line {ml.line} ({st.heading})")
                    claim.steps.append(_claim_step(d.steps[-1].rhs if d.steps else v, v, ml, note,
                                                   budget=doc.budget.kernel))
                    doc.claims.append(claim)
                    continue
                _eq(d, v, ml, note)
                d.steps[-1].after_unreadable = k == 0 and st.after_unreadable
            return
        if st.after_unreadable:
            # "= v" after an unreadable line: the step into v is not checked; later sides compare with v
            claim = Claim(f"continued identity after an unreadable line ({st.heading})")
            s = ClaimStep(vals[0] if isinstance(vals[0], Expr) else None, None, "claim", "claim", note, ml.line,
                     after_unreadable=True)
            s.value = vals[0]
            if not isinstance(vals[0], Expr):
                # "= 2", "= f(x)", "= Σ ...": no expression to print, shown as written (as a claim step is)
                s.text_override, s.raw = f"= {_show(vals[0])}", ml.text.strip()
            s.verdict = undecided("not checked", reason=UNREADABLE_BEFORE)
            claim.steps.append(s)
            for a, b, rel in zip(vals, vals[1:], pl.rels):
                claim.steps.append(_claim_step(a, b, ml, note or "continued identity", rel, budget=doc.budget.kernel))
            doc.claims.append(claim)
            st.claim, st.derivation = claim, None
            return
        if st.claim is not None and st.claim.steps:
            prev = st.claim.steps[-1].value
            for v, rel in zip(vals, [pl.lead] + pl.rels):
                st.claim.steps.append(_claim_step(prev, v, ml, note or "continued identity", rel,
                                                  budget=doc.budget.kernel))
                prev = v
            return
        raise LineError(ml.line, ml.col, "a line starting with '=' needs an equation before it")

    grad_lhs = first if isinstance(first, Sym) and first.kind == "grad" else None
    if pl.lead == "⇒" or grad_lhs is not None:
        if d is not None and grad_lhs is not None and grad_lhs.name == f"d{d.loss}/d{d.wrt.name}":
            # ⇒ dL/dx = Wg = Wᵀg: every right side is a read-off, each checked
            if len(vals) > 1 and all(isinstance(G, Expr) for G in vals[1:]):
                for G in vals[1:]:
                    d.read_off(G, line=ml.line, note=note)
                    d.steps[-1].after_unreadable = st.after_unreadable and pl.lead == "⇒"
                return
            bad = next(G for G in vals[1:] if not isinstance(G, Expr)) if len(vals) > 1 else None
            raise LineError(ml.line, ml.col, _why_not_expr(bad) if bad is not None else "expected dL/dx = G")
        if d is not None and grad_lhs is None and pl.lead == "⇒":
            # a loss derivation has no gradient symbol before its read-off (d.grad is None): name it
            grad = plain(d.grad) if d.grad is not None else f"d{d.loss}/d{plain(d.wrt)}"
            raise LineError(ml.line, ml.col, f"after ⇒ expected the gradient {grad} = ...")
        claim = Claim(f"gradient statement ({st.heading})")
        same_shape = all(isinstance(v, Expr) for v in vals) and len({v.shape for v in vals}) == 1
        if d is None and pl.lead == "⇒" and st.after_unreadable and same_shape:
            # "⇒ dL/dx = G" reads off a derivation whose lines could not be read: dL/dx would be compared
            # as a free symbol and refuted although the author may be right; not checked, and says why
            # (sides of different shapes are still ill-formed, whatever came before)
            s = ClaimStep(None, None, "problem", None, note, ml.line)
            s.verdict = undecided("not checked", reason=UNREADABLE_BEFORE)
            s.col = ml.col
            s.text_override = s.raw = ml.text.strip()
            claim.steps.append(s)
            doc.claims.append(claim)
            return
        for a, b, rel in zip(vals, vals[1:], pl.rels):
            claim.steps.append(_claim_step(a, b, ml, note or "gradient statement", rel, budget=doc.budget.kernel))
        if not claim.steps:
            raise LineError(ml.line, ml.col, "expected an equation")
        doc.claims.append(claim)
        return

    if d is not None and isinstance(first, Sym) and first.kind == "delta" and first.name == d.delta_loss.name:
        for v in vals[1:]:
            d.eq(v, lhs=first, line=ml.line, note=note)
        return
    if isinstance(first, Sym) and first.kind == "delta" and pl.lead is None:
        raise LineError(ml.line, ml.col, f"{first.name} = ... needs a derivation to belong to: a forward definition "
                        f"y = f(x) that could be read, then a perturbation line Δy = ...")
    if len(vals) == 1 and pl.lead is None:
        raise LineError(ml.line, ml.col, "a single expression with no relation: is the '=' at the start missing?")

    # an identity claim between expressions
    if len(vals) < 2:
        raise LineError(ml.line, ml.col, "expected an equation (lhs = rhs)")
    claim = Claim(f"identity ({st.heading})")
    for a, b, rel in zip(vals, vals[1:], pl.rels):
        claim.steps.append(_claim_step(a, b, ml, note or "identity", rel, budget=doc.budget.kernel))
    late = _late_definition(pl, vals, scope)
    if late is not None:
        # "h = relu(W₁x + b₁)" below "y = W₂h + b₂": as a claim about a free h it could only fail, and the
        # counterexample (h ≠ relu(W₁x + b₁)) would refute nothing the author wrote; as a definition it
        # comes after the lines that use h. Neither reading is taken.
        step = claim.steps[0]
        step.verdict = undecided("not checked", reason=late)
    doc.claims.append(claim)
    st.claim, st.derivation = claim, None


def _late_definition(pl: ParsedLine, vals: list, scope: Scope) -> str | None:
    """Why ``h = f`` is read neither as a claim nor as a definition, or None: h is a plain symbol with no
    definition of its own, a variable of a forward definition in force, and f does not mention h."""
    first = vals[0]
    if not (pl.lead is None and isinstance(first, Sym) and first.kind == "plain" and pl.rels
            and pl.rels[0] == "=" and isinstance(vals[1], Expr) and not vals[1].has_delta()
            and first.name not in {x.name for x in vals[1].symbols()}
            and _forward_of(scope, first.name) is None and _input_of_forward(scope, first.name)):
        return None
    users = []
    s: Scope | None = scope
    while s is not None:
        users += [plain(o) for o, f in s.forwards.values() if first.name in {x.name for x in f.symbols()}]
        s = s.parent
    return (f"{first.name} is a variable of the forward definition of {', '.join(users)} above, so this line is "
            f"not read as its definition (definitions come before the lines that use them), and as an identity it "
            f"would have to hold for every {first.name}, which it cannot; define {first.name} before "
            f"{', '.join(users)}, or write the claim expression first ({plain(vals[1])} = {first.name})")


def _eq(d: Derivation, v, ml: MathLine, note: str) -> None:
    if isinstance(v, Expr):
        d.eq(v, line=ml.line, note=note)
    else:
        raise LineError(ml.line, ml.col, _why_not_expr(v))


_NOT_CHECKED = (FuncApp, IndexNotation, IndexSum)


def _why_not_expr(v) -> str:
    if isinstance(v, FuncApp):
        return f"function notation {v.name}(...) is not interpreted; write the expression it stands for"
    if isinstance(v, (IndexNotation, IndexSum)):
        return "index notation (Σ_i ...) is not checked by this version of symderiv"
    if isinstance(v, Fraction):
        return f"the number {v} cannot be compared with a matrix expression here"
    return "expected a matrix expression"


def _claim_step(a, b, ml: MathLine, note: str, rel: str | None = "=", budget: Budget = DEFAULT_BUDGET) -> ClaimStep:
    """A checked equality a = b outside a derivation chain: exact, unless the author wrote ≈
    (then equality to first order in the Δ symbols). A number next to a 1×1 expression is that
    multiple of the 1×1 ones matrix (𝟏ᵀsoftmax(z) = 1)."""
    if isinstance(a, Fraction) and isinstance(b, Expr) and b.is_scalar:
        a = Scale(a, Ones(1, 1))
    if isinstance(b, Fraction) and isinstance(a, Expr) and a.is_scalar:
        b = Scale(b, Ones(1, 1))
    if isinstance(a, Expr) and isinstance(b, Expr):
        s = ClaimStep(b, a, "claim", "claim", note, ml.line)
        s.value, s.value_left = b, a
        s.first_order = rel == "≈"
        return s
    s = ClaimStep(b if isinstance(b, Expr) else None, a if isinstance(a, Expr) else None, "claim", None, note, ml.line)
    if isinstance(a, Fraction) and isinstance(b, Fraction) and rel == "≈":
        s.verdict = undecided("not checked", reason="approximate equality between numbers is not checked")
    elif isinstance(a, Fraction) and isinstance(b, Fraction):
        s.verdict = decide_numbers(a, b)
    elif isinstance(a, (IndexNotation, IndexSum, Expr)) and isinstance(b, (IndexNotation, IndexSum, Expr)):

        finite = sorted({x.name for v in (a, b) for x in _index_symbols(v) if x.shape[0] is not sympy.oo})
        if finite:
            # the index checker decides sums over ℤ of zero-extended sequences: for x ∈ Rⁿ a shifted
            # index leaves the range 0..n-1, which that reading ignores
            s.verdict = undecided("not checked", reason="index notation over finite vectors "
                                f"({', '.join(finite)}) is not checked: only sequences in R^∞ are")
        else:
            s.verdict = decide_index(a, b, budget)
        s.rule = "index-notation"
    else:
        s.verdict = undecided("not checked", reason=_why_not_expr(b if isinstance(a, Expr) else a))
    s.text_override = f"{_show(a)} = {_show(b)}"
    s.raw = ml.text.strip()
    if isinstance(a, (IndexNotation, IndexSum)) or isinstance(b, (IndexNotation, IndexSum)):
        s.text_override = ml.text.strip()
    s.value = b
    s.value_left = a
    return s


def _index_symbols(v) -> list:
    """The declared symbols of an index-notation value (or of a matrix expression)."""
    if isinstance(v, Expr):
        return list(v.symbols())
    if isinstance(v, IndexSum):
        return [x for _, t in v.terms for x in _index_symbols(t)]
    if isinstance(v, IndexNotation):
        out = []
        for f in v.factors:
            base = f[1] if f[0] == "nested" else f[0]
            out += _index_symbols(base) if isinstance(base, (Expr, IndexNotation, IndexSum)) else []
        return out
    return []


def _show(v) -> str:
    if isinstance(v, Expr):
        return plain(v)
    if isinstance(v, FuncApp):
        return f"{v.name}(…)"
    if isinstance(v, (IndexNotation, IndexSum)):
        return "Σ …"
    return str(v)


def _claim_verdict(s: ClaimStep, budget: Budget = DEFAULT_BUDGET, hypotheses: tuple = ()) -> Verdict:
    """Exact equality for '=' (a standalone claim is not a Δ-chain); first order only for ≈. Under the
    section's stated hypotheses, when a claim does not hold without them."""

    a, b = (s.value_left if s.value_left is not None else s.lhs), s.rhs
    try:
        if s.defined:
            a, b = substitute(a, s.defined), substitute(b, s.defined)
        if s.first_order:
            return compare(a, b, budget, hypotheses)
        v = discharge(Obligation(a, b, "exact"), budget)
        if v.status != VERIFIED and hypotheses:
            v = discharge(Obligation(a, b, "exact", hypotheses), budget)
        if v.status != VERIFIED and (a.has_delta() or b.has_delta()) and a.shape == b.shape:
            w = compare(a, b, budget, hypotheses)
            if w.status == VERIFIED:
                v = annotate(v, reason_suffix=("; " if v.reason else "") + ("it holds only to first order in the Δ "
                                                                            "symbols: write \\approx to claim that"))
        return v
    except Exception as exc:  # noqa: BLE001 — ill-typed is failed; anything else undecided with its reason
        return error_verdict(exc)


def _line_problem(doc: CheckedDocument, st: _State, ml: MathLine, line: int, col: int, message: str) -> None:
    """A line that cannot be read fails at its position. Inside a derivation's chain it stays one of
    that derivation's steps, in document order (the chain after it is not compared across it).
    A line that fails only because a declaration could not be read names that root cause."""
    unknown = re.match(r"unknown symbol '([^']+)'", message)
    if unknown and unknown.group(1) in doc.failed_declarations:
        at_line, at_col = doc.failed_declarations[unknown.group(1)]
        message = (f"{unknown.group(1)} is not declared because its declaration at line {at_line}, column {at_col} "
                   "cannot be read; fix that declaration")
    s = ClaimStep(None, None, "problem", None, ml.note, line)
    s.verdict = ill_formed(message, "reading the line")
    s.col = col
    s.text_override = s.raw = ml.text.strip()
    if st.derivation is not None and st.claim is None:
        st.derivation.steps.append(s)
    else:
        doc.claims.append(Claim(f"line {line} ({st.heading})", [s]))
    st.after_unreadable = True


def label_rules(d: Derivation) -> None:
    """Name the rule of unnamed steps from their shape (a label for the reader; never a verdict)."""
    prev = None
    for s in d.steps:
        if s.rule is None and s.kind == "chain" and prev is not None:
            if s.lhs is not None:
                s.rule = "restate"
            elif d.delta_out.name in {x.name for x in prev.symbols()} and d.delta_out.name not in {x.name for x in s.rhs.symbols()}:
                s.rule = "substitution"
            else:
                s.rule = infer_rule(prev, s.rhs, s.verdict)
        if s.kind == "problem":
            prev = None  # the chain is not compared across a line that could not be read
        elif s.kind != "readoff":
            prev = s.rhs


def infer_rule(a: Expr, b: Expr, v: Verdict | None) -> str:
    from symderiv.kernel.expand import push_transpose

    jet_rules: dict[type, str] = {Inv: "jet-inverse", Det: "jet-det", LogDet: "jet-logdet", Fn: "jet-"}

    def perturbed_atom(n: Expr) -> bool:  # f(M + ΔM) for an entrywise function, an inverse or a determinant
        return isinstance(n, (Inv, Det, LogDet, Fn)) and n.arg.has_delta()

    jets = [n for n in a.walk() if perturbed_atom(n)]
    if jets and not any(type(n) is type(jets[0]) and perturbed_atom(n) for n in b.walk()):
        # f(M + ΔM) on the left and none on the right: the jet of f (its first-order rule)
        n = jets[0]
        name = jet_rules[type(n)] + (n.name if isinstance(n, Fn) else "")
        if name in RULES:
            return name
    if v is not None and v.dropped:
        return "drop-higher-order"
    kinds = lambda e: {type(n) for n in e.walk()}  # noqa: E731 — exact node classes, as the rule names mean
    ka, kb = kinds(a), kinds(b)
    if isinstance(a, Inner) and isinstance(b, Inner) and a.left == b.right and a.right == b.left:
        return "inner-symmetry"
    if isinstance(a, Inner) and isinstance(b, MatMul):
        return "inner-of-vectors"
    if isinstance(a, Inner) and isinstance(b, Trace):
        return "inner-as-trace"
    if isinstance(b, Inner) and isinstance(a, Trace):
        return "trace-as-inner"
    if isinstance(b, Inner) and isinstance(a, MatMul):
        return "inner-of-vectors"
    if isinstance(b, Trace) and not isinstance(a, Trace):
        return "trace-of-scalar"
    if isinstance(a, Trace) and isinstance(b, Trace):
        return "cyclic-trace"
    if isinstance(a, Inner) and isinstance(b, Inner):
        if (Corr in ka or Conv in ka) and a.right != b.right:
            return "corr-conv-property"
        if push_transpose(a.left) == push_transpose(b.left) or Transpose in ka:
            return "transpose-of-product"
        return "substitution"
    if Add in ka and Add not in kb:
        return "expansion"
    if isinstance(a, MatMul) and isinstance(b, MatMul):
        return "associativity"
    return "equality"


def _compare_values(a, b, budget: Budget = DEFAULT_BUDGET) -> Verdict:
    if isinstance(a, (IndexNotation, IndexSum)) or isinstance(b, (IndexNotation, IndexSum)):

        return decide_index(a, b, budget)
    if isinstance(a, Expr) and isinstance(b, Expr):
        s = ClaimStep(b, a, "claim")
        return _claim_verdict(s, budget)
    return undecided("not checked")


def _claim_typos(c: Claim, budget: Budget = DEFAULT_BUDGET) -> None:
    """In a chain a = b = c = ..., a line that disagrees with both neighbours while they agree with
    each other is reported as a probable typo (:func:`blame_typo`). A step whose previous expression
    is not well formed is compared with the first expression of the chain: a difference refutes the
    chain, agreement leaves the step unchecked (it is not what the author wrote)."""
    steps = c.steps
    head = steps[0].value_left if steps else None
    for s in steps:
        if s.verdict is not None and "previous-ill-formed" in s.verdict.methods and head is not None:
            retry = _compare_values(head, s.value, budget)
            if retry.status == VERIFIED:
                s.verdict = undecided("not checked", reason="the previous expression is not well formed, so this "
                                      "step is not checked; this expression does agree with the first expression "
                                      "of the chain", methods=[*retry.methods, "previous-ill-formed"])
            else:
                s.verdict = annotate(retry, method_prefix="compared with the first expression of the chain, because "
                                     "the previous line is not well formed: ")
    for i in range(len(steps) - 1):
        a, b = steps[i], steps[i + 1]
        if a.status == FAILED and b.status == FAILED and a.value_left is not None and b.value is not None:
            retry = _compare_values(a.value_left, b.value, budget)
            if retry.status == VERIFIED:
                a.verdict, b.verdict = blame_typo(a.verdict, b.verdict, "the expression before the suspected typo")
                b.value_left = a.value_left
