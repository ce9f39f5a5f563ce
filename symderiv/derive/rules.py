"""Named rewriting rules of the differential method.

Each rule is one small function with its formula in the docstring and a LaTeX justification
for reports. The engine uses them to *propose* the next line of a derivation; the verdict of
every line still comes from the verifier, never from trusting the rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from symderiv.kernel.expand import delta_degree, delta_expand, push_transpose
from symderiv.lang.operators import (
    Det,
    Inv,
    Add,
    Expr,
    Inner,
    MatMul,
    Scale,
    Sym,
    Trace,
    Transpose,
    add,
    delta_of,
    mul,
    substitute,
)


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    formula: str  # LaTeX
    func: Callable

    def __call__(self, *args, **kwargs):
        return self.func(*args, **kwargs)


RULES: dict[str, Rule] = {}


def rule(name: str, title: str, formula: str):
    def register(func: Callable) -> Callable:
        RULES[name] = Rule(name, title, formula, func)
        return func

    return register


def get_rule(name: str | None) -> Rule | None:
    """The rule called ``name``; for a step that applies several rules at once (``a+b``, one per
    term or per node), a rule whose title and formula list theirs."""
    if not name:
        return None
    if name in RULES or "+" not in name:
        return RULES.get(name)
    parts = [RULES.get(n) for n in name.split("+")]
    if any(p is None for p in parts):
        return None
    return Rule(name, "; ".join(p.title for p in parts), r",\quad ".join(p.formula for p in parts),
                lambda *a, **k: None)


def factors(e: Expr) -> list[Expr]:
    return list(e.args) if isinstance(e, MatMul) else [e]


def is_delta(e: Expr, wrt: Sym) -> bool:
    return isinstance(e, Sym) and e.name == delta_of(wrt).name


@rule("perturbation", "perturbation", r"\Delta y = f(x + \Delta x) - f(x)")
def perturbation(f: Expr, wrt: Sym) -> Expr:
    """Δy = f(x + Δx) − f(x): replace x by x + Δx and subtract the unperturbed value."""
    return Add(substitute(f, {wrt.name: Add(wrt, delta_of(wrt))}), Scale(-1, f))


@rule("expansion", "expansion (linearity)", r"(A + B) C = A C + B C,\quad A (B + C) = A B + A C")
def expansion(e: Expr) -> Expr:
    """Distribute products over sums containing Δ; the terms free of Δ cancel f(x) − f(x)."""
    terms = [(c, m) for c, m in delta_expand(e) if m.has_delta()]
    return display_sum(terms, e.shape)


@rule("drop-higher-order", "drop terms of order ≥ 2 in Δ", r"\Delta x^{T} \Delta x = O(\|\Delta x\|^{2}) \to 0")
def drop_higher_order(e: Expr) -> Expr:
    """Keep the terms of order ≤ 1 in the perturbations; ΔaΔb is second order."""
    terms = [(c, m) for c, m in delta_expand(e) if delta_degree(m) <= 1]
    return display_sum(terms, e.shape)


@rule("loss-differential", "differential of the loss", r"\Delta L = \left\langle \frac{dL}{dy}, \Delta y \right\rangle")
def loss_differential(g: Sym, dy: Sym) -> Expr:
    """ΔL = ⟨dL/dy, Δy⟩: the definition of the gradient dL/dy (to first order)."""
    return Inner(g, dy)


@rule("substitution", "substitution", r"\text{replace } \Delta y \text{ by its value}")
def substitution(e: Expr, mapping: dict[str, Expr]) -> Expr:
    """Replace a defined symbol by its value."""
    return substitute(e, mapping)


@rule("inner-linearity", "linearity of the inner product", r"\langle A, \textstyle\sum_i c_i B_i \rangle = \sum_i c_i \langle A, B_i \rangle")
def inner_linearity(a: Expr, terms: list[tuple[Fraction, Expr]]) -> list[tuple[Fraction, Expr]]:
    """⟨A, Σ cᵢBᵢ⟩ = Σ cᵢ⟨A, Bᵢ⟩ (and symmetrically in the first argument)."""
    return [(c, Inner(a, b)) for c, b in terms]


@rule("inner-symmetry", "symmetry of the inner product", r"\langle A, B \rangle = \langle B, A \rangle")
def inner_symmetry(e: Inner) -> Inner:
    """⟨A, B⟩ = ⟨B, A⟩."""
    return Inner(e.right, e.left)


@rule("inner-of-vectors", "inner product of vectors", r"\langle a, b \rangle = a^{T} b")
def inner_of_vectors(e: Inner) -> Expr:
    """⟨a, b⟩ = aᵀb for column vectors a, b."""
    return mul(push_transpose(Transpose(e.left)), e.right)


@rule("inner-as-trace", "inner product as a trace", r"\langle A, B \rangle = \operatorname{tr}\left(A^{T} B\right)")
def inner_as_trace(e: Inner) -> Expr:
    """⟨A, B⟩ = tr(AᵀB)."""
    return Trace(mul(push_transpose(Transpose(e.left)), e.right))


@rule("trace-as-inner", "trace as an inner product", r"\operatorname{tr}\left(A^{T} B\right) = \langle A, B \rangle")
def trace_as_inner(u: list[Expr], d: Expr) -> Expr:
    """tr(U D) = ⟨Uᵀ, D⟩; for a column vector D, U D = ⟨Uᵀ, D⟩ likewise."""
    if len(u) == 1 and isinstance(u[0], Transpose):
        return Inner(u[0].arg, d)
    return Inner(Transpose(u[0] if len(u) == 1 else MatMul(*u)), d)


@rule("transpose-of-scalar", "transpose of a scalar", r"s = s^{T} \text{ for } s \in \mathbf{R}")
def transpose_of_scalar(s: Expr) -> Expr:
    """s = sᵀ for a scalar, with (ABC)ᵀ = CᵀBᵀAᵀ applied to the product."""
    return push_transpose(Transpose(s))


@rule("trace-of-transpose", "trace of a transpose", r"\operatorname{tr}(A) = \operatorname{tr}\left(A^{T}\right)")
def trace_of_transpose(t: Trace) -> Trace:
    """tr(A) = tr(Aᵀ)."""
    return Trace(push_transpose(Transpose(t.arg)))


@rule("trace-of-scalar", "trace of a scalar", r"s = \operatorname{tr}(s) \text{ for } s \in \mathbf{R}")
def trace_of_scalar(s: Expr) -> Trace:
    """s = tr(s) for a 1×1 matrix s."""
    return Trace(s)


@rule("cyclic-trace", "cyclic property of the trace", r"\operatorname{tr}(A B C) = \operatorname{tr}(C A B)")
def cyclic_trace(t: Trace, k: int) -> Trace:
    """tr(A₁⋯A_k) = tr(A_{k+1}⋯A_n A₁⋯A_k): rotate the first ``k`` factors to the end."""
    fs = factors(t.arg)
    return Trace(mul(*(fs[k:] + fs[:k])))


@rule("transpose-of-product", "transpose of a product", r"(A B)^{T} = B^{T} A^{T}")
def transpose_of_product(e: Expr) -> Expr:
    """(AB)ᵀ = BᵀAᵀ and (Aᵀ)ᵀ = A, applied throughout."""
    return push_transpose(e)


@rule("associativity", "grouping of a product", r"A B C = (A B) C")
def associativity(u: list[Expr], d: Expr) -> Expr:
    """A B C = (A B) C."""
    return MatMul(MatMul(*u), d)


@rule("collect", "collecting like terms", r"a X + b X = (a + b) X")
def collect(terms: list[tuple[Fraction, Expr]], same) -> list[tuple[Fraction, Expr]]:
    """aX + bX = (a + b)X, where ``same(X, Y)`` decides that two terms are equal."""
    out: list[list] = []
    for c, t in terms:
        for slot in out:
            if same(slot[1], t):
                slot[0] += c
                break
        else:
            out.append([c, t])
    return [(c, t) for c, t in out if c != 0]


@rule("restate", "the required form", r"\Delta L = \langle G, \Delta x \rangle")
def restate(g: Expr, d: Expr) -> Inner:
    """ΔL = ⟨G, Δx⟩: the chain has reached the form from which the gradient is read off."""
    return Inner(g, d)


@rule("read-off", "read off the gradient", r"\Delta L = \langle G, \Delta x \rangle \Rightarrow \frac{dL}{dx} = G")
def read_off(e: Inner) -> Expr:
    """ΔL = ⟨G, Δx⟩ with G free of Δ for every Δx ⇒ dL/dx = G."""
    return e.left


# --- correlation and convolution (notation: ⊙ correlation, ⊗ convolution, as in the notes) ---
@rule("corr-swap", "property 1: ⟨A, B⊙C⟩ = ⟨C, B⊙A⟩", r"\langle A, B \odot C \rangle = \langle C, B \odot A \rangle")
def corr_swap(a: Expr, b: Expr, c: Expr) -> Inner:
    """⟨A, B ⋆ C⟩ = ⟨C, B ⋆ A⟩ (correlation)."""
    from symderiv.lang.operators import Corr

    return Inner(c, Corr(b, a))


@rule("corr-to-conv", "property 3: ⟨A, B⊙C⟩ = ⟨B, A⊗C⟩", r"\langle A, B \odot C \rangle = \langle B, A \otimes C \rangle")
def corr_to_conv(a: Expr, b: Expr, c: Expr) -> Inner:
    """⟨A, B ⋆ C⟩ = ⟨B, A ∗ C⟩."""
    from symderiv.lang.operators import Conv

    return Inner(b, Conv(a, c))


@rule("conv-to-corr", "property 4: ⟨A, B⊗C⟩ = ⟨B, A⊙C⟩", r"\langle A, B \otimes C \rangle = \langle B, A \odot C \rangle")
def conv_to_corr(a: Expr, b: Expr, c: Expr) -> Inner:
    """⟨A, B ∗ C⟩ = ⟨B, A ⋆ C⟩."""
    from symderiv.lang.operators import Corr

    return Inner(b, Corr(a, c))


@rule("conv-commutative", "convolution is commutative", r"A \otimes B = B \otimes A")
def conv_commutative(e: Expr) -> Expr:
    """A ∗ B = B ∗ A."""
    return e.with_children(e.right, e.left)


@rule("mode-definition", "finite mode as a window of the operator on ℤ",
      r"(x \odot_{m} w) = R_{[o,\, o+L-1]}\left(E\,x \odot E\,w\right)")
def mode_definition(op: Expr) -> Expr:
    """A finite-mode operator is the window [o, o+L−1] of the operator on ℤ applied to the
    zero-extended inputs E x, E w (offsets from :func:`operators.mode_window`)."""
    from symderiv.lang.operators import Ext, Window

    o, L = op.window()
    return Window(type(op)(Ext(op.left), Ext(op.right)), o, L)


@rule("window-adjoint", "adjoint of the restriction", r"\langle g, R_{[o,\, o+L-1]}(s) \rangle = \langle \tau_{o} E\,g, s \rangle")
def window_adjoint(g: Expr, window: Expr) -> Inner:
    """⟨g, R_{[o, o+L−1]} s⟩ = ⟨τ_o E g, s⟩: zero-extend g and place it at positions o, …, o+L−1."""
    from symderiv.lang.operators import Ext, Shift

    eg = Ext(g) if window.offset == 0 else Shift(Ext(g), window.offset)
    return Inner(eg, window.arg)


@rule("support-restriction", "restriction to the support of the variable",
      r"\langle E\,v, s \rangle = \langle v, R_{[0,\, n-1]}(s) \rangle \text{ for } v \in \mathbf{R}^{n}")
def support_restriction(v: Expr, s: Expr) -> Inner:
    """⟨E v, s⟩ = ⟨v, R_{[0, n−1]} s⟩: only the entries of s where v lives matter."""
    from symderiv.lang.operators import Window

    return Inner(v, Window(s, 0, v.shape[0]))


@rule("shift-out", "moving a shift out of an operator", r"R_{[a,\, b]}\left(\tau_{o} g \otimes w\right) = R_{[a-o,\, b-o]}\left(g \otimes w\right)")
def shift_out(window: Expr) -> Expr:
    """(τ_d a) ∗ b = τ_d(a ∗ b), (τ_d a) ⋆ b = τ_d(a ⋆ b), a ⋆ (τ_d b) = τ_{−d}(a ⋆ b), and
    R_{[p, q]}(τ_d s) = R_{[p−d, q−d]}(s)."""
    from symderiv.lang.operators import Conv, Shift, Window

    s = window.arg
    left, right = s.left, s.right
    if isinstance(left, Shift):
        d, s2 = left.by, s.with_children(left.arg, right)
    elif isinstance(right, Shift):
        d, s2 = (right.by if isinstance(s, Conv) else -right.by), s.with_children(left, right.arg)
    else:
        return window
    return Window(s2, window.offset - d, window.length)


@rule("mode-recognition", "recognising a finite mode", r"R_{[o,\, o+L-1]}\left(E\,a \otimes E\,b\right) = a \otimes_{m} b")
def mode_recognition(window: Expr) -> Expr:
    """A window of E a ∗ E b (or ⋆) that coincides with a finite mode is that mode."""

    from symderiv.lang.operators import Ext, MODES, ShapeError

    s = window.arg
    if not (isinstance(s.left, Ext) and isinstance(s.right, Ext)):
        return window
    from symderiv.kernel.decide import forms_equal

    for mode in MODES:
        try:
            cand = type(s)(s.left.arg, s.right.arg, mode)
        except ShapeError:
            continue
        o, L = cand.window()
        same = forms_equal(o, window.offset) and forms_equal(L, window.length)
        if same:
            return cand
    return window


def label(name: str, title: str, formula: str, doc: str) -> None:
    """Register a name for steps that symderiv labels but does not rewrite with (hand-written steps,
    identity claims). Like every step, their verdicts come from the verifier."""

    def unchanged(e: Expr) -> Expr:
        return e

    unchanged.__doc__ = doc
    RULES[name] = Rule(name, title, formula, unchanged)


label("corr-conv-property", "inner product with correlation/convolution",
      r"\langle A, B \odot C \rangle = \langle B, A \otimes C \rangle,\ \ldots",
      "One of the properties 1), 3), 4) of the notes, in a step written by hand.")
label("equality", "equality", r"=", "A step whose rule symderiv does not name.")
label("claim", "identity claim", r"=", "An equation stated on its own, checked as an identity for all sizes.")
label("index-notation", "index notation",
      r"\langle a, b \rangle = \textstyle\sum_i a_i b_i,\ (a \odot b)_i = \sum_j a_{i+j} b_j",
      "A step written with explicit sums over indices, translated into z-transform classes.")


def display_sum(terms: list[tuple[Fraction, Expr]], shape) -> Expr:
    """A sum for display: a coefficient shared by all terms is factored out, ½(A + B)."""
    if len(terms) > 1 and len({c for c, _ in terms}) == 1 and terms[0][0] not in (1, -1):
        c = terms[0][0]
        return Scale(c, add([(Fraction(1), t) for _, t in terms], shape))
    return add(terms, shape)


# --- entrywise functions, constants and scalar coefficients (verification-theory-2, parts A–D) ---
def _times(d: Expr, dm: Expr) -> Expr:
    """f′(M) ⊙ ΔM; on a 1×1 argument ⊙ is the ordinary product, written as one."""
    from symderiv.lang.operators import Hadamard

    return MatMul(d, dm) if dm.is_scalar else Hadamard(d, dm)


def _jet(name: str, m: Expr, dm: Expr) -> Expr:
    from symderiv.lang.operators import Fn

    return _times(Fn(name, m, 1), dm)


@rule("jet-sigmoid", "jet of σ", r"\Delta \sigma(z) \doteq \sigma'(z) \odot \Delta z")
def jet_sigmoid(m: Expr, dm: Expr) -> Expr:
    """σ(z + Δz) − σ(z) ≐ σ′(z) ⊙ Δz (entrywise chain rule; σ′ = σ ⊙ (𝟏 − σ))."""
    return _jet("sigmoid", m, dm)


@rule("jet-tanh", "jet of tanh", r"\Delta \tanh(z) \doteq \tanh'(z) \odot \Delta z")
def jet_tanh(m: Expr, dm: Expr) -> Expr:
    """tanh(z + Δz) − tanh(z) ≐ tanh′(z) ⊙ Δz (tanh′ = 𝟏 − tanh ⊙ tanh)."""
    return _jet("tanh", m, dm)


@rule("jet-relu", "jet of relu (almost everywhere)", r"\Delta \operatorname{relu}(z) \doteq \operatorname{relu}'(z) \odot \Delta z")
def jet_relu(m: Expr, dm: Expr) -> Expr:
    """relu(z + Δz) − relu(z) ≐ relu′(z) ⊙ Δz off the null set where an entry of z is 0 (relu′ = step)."""
    return _jet("relu", m, dm)


@rule("jet-exp", "jet of exp", r"\Delta \exp(z) \doteq \exp'(z) \odot \Delta z")
def jet_exp(m: Expr, dm: Expr) -> Expr:
    """exp(z + Δz) − exp(z) ≐ exp′(z) ⊙ Δz (exp′ = exp)."""
    return _jet("exp", m, dm)


@rule("jet-log", "jet of log", r"\Delta \log(u) \doteq \log'(u) \odot \Delta u")
def jet_log(m: Expr, dm: Expr) -> Expr:
    """log(u + Δu) − log(u) ≐ log′(u) ⊙ Δu for u > 0 (log′(u) = 1/u)."""
    return _jet("log", m, dm)


@rule("jet-softplus", "jet of softplus", r"\Delta \operatorname{softplus}(z) \doteq \operatorname{softplus}'(z) \odot \Delta z")
def jet_softplus(m: Expr, dm: Expr) -> Expr:
    """softplus(z + Δz) − softplus(z) ≐ softplus′(z) ⊙ Δz (softplus′ = σ)."""
    return _jet("softplus", m, dm)


@rule("jet-recip", "jet of 1/u", r"\Delta \frac{1}{u} \doteq \operatorname{recip}'(u) \odot \Delta u")
def jet_recip(m: Expr, dm: Expr) -> Expr:
    """1/(u + Δu) − 1/u ≐ recip′(u) ⊙ Δu for u ≠ 0 (recip′(u) = −1/u²)."""
    return _jet("recip", m, dm)


@rule("jet-sqrt", "jet of the square root", r"\Delta \sqrt{u} \doteq \sqrt{\cdot}'(u) \odot \Delta u")
def jet_sqrt(m: Expr, dm: Expr) -> Expr:
    """√(u + Δu) − √u ≐ sqrt′(u) ⊙ Δu for u > 0 (sqrt′(u) = 1/(2√u))."""
    return _jet("sqrt", m, dm)


@rule("jet-square", "jet of the square", r"\Delta (u \odot u) \doteq 2\, u \odot \Delta u")
def jet_square(m: Expr, dm: Expr) -> Expr:
    """square(u + Δu) − square(u) ≐ square′(u) ⊙ Δu (square′(u) = 2u)."""
    return _jet("square", m, dm)


@rule("jet-inverse", "differential of the inverse", r"\Delta (M^{-1}) \doteq -M^{-1}\, \Delta M\, M^{-1}")
def jet_inverse(m: Expr, dm: Expr) -> Expr:
    """(M + ΔM)⁻¹ − M⁻¹ ≐ −M⁻¹ ΔM M⁻¹ where M is invertible (from (M + ΔM)(M⁻¹ + D) ≐ I)."""
    return Scale(-1, MatMul(Inv(m), dm, Inv(m)))


@rule("jet-det", "Jacobi's formula", r"\Delta \det M \doteq \det M \operatorname{tr}(M^{-1} \Delta M)")
def jet_det(m: Expr, dm: Expr) -> Expr:
    """det(M + ΔM) − det M ≐ det M · tr(M⁻¹ ΔM) where M is invertible (Jacobi)."""
    return MatMul(Det(m), Trace(MatMul(Inv(m), dm)))


@rule("jet-logdet", "differential of log det", r"\Delta \log\det M \doteq \operatorname{tr}(M^{-1} \Delta M)")
def jet_logdet(m: Expr, dm: Expr) -> Expr:
    """log det(M + ΔM) − log det M ≐ tr(M⁻¹ ΔM) where det M > 0."""
    return Trace(MatMul(Inv(m), dm))


#: the jets of the matrix functions, by node class name
MATRIX_JETS: dict[str, Rule] = {"Inv": RULES["jet-inverse"], "Det": RULES["jet-det"], "LogDet": RULES["jet-logdet"]}

JETS: dict[str, Rule] = {n: RULES["jet-" + n] for n in
                         ("sigmoid", "tanh", "relu", "exp", "log", "softplus", "recip", "sqrt", "square")}


@rule("product-rule", "differential of a product (first order)",
      r"\Delta (A B) \doteq \Delta A\, B + A\, \Delta B")
def product_rule(parts: list[Expr], deltas: dict[int, Expr], build: Callable[[list[Expr]], Expr]) -> list[Expr]:
    """Δ(A₁⋯A_k) ≐ Σᵢ A₁⋯ΔAᵢ⋯A_k for any multilinear operation (matrix, inner or entrywise
    product); ``deltas`` maps i to ΔAᵢ for the factors that change. The terms with two or more Δ
    factors are of order ≥ 2 and are dropped."""
    return [build(parts[:i] + [d] + parts[i + 1:]) for i, d in sorted(deltas.items())]


#: f′ replaced by its value where the table gives a simpler function (σ′, tanh′ and relu′ stay
#: primed: that is how gradients are written)
_TABLE = {"exp": "exp", "log": "recip", "softplus": "sigmoid"}


@rule("derivative-table", "derivative table",
      r"\exp' = \exp,\ \log'(u) = \frac{1}{u},\ \operatorname{softplus}' = \sigma,\ "
      r"\left(\tfrac{1}{u}\right)' = -\frac{1}{u^{2}},\ \sqrt{u}\,' = \frac{1}{2\sqrt{u}}")
def derivative_table(e: Expr) -> Expr:
    """exp′ = exp, log′ = 1/u, softplus′ = σ, recip′ = −1/u², sqrt′ = 1/(2√u), applied to every f′ in ``e``."""
    from symderiv.lang.operators import Fn, Hadamard, map_bottom_up

    def node(n: Expr) -> Expr:
        if not (isinstance(n, Fn) and n.prime):
            return n
        if n.name in _TABLE:
            return Fn(_TABLE[n.name], n.arg)
        r = Fn("recip", n.arg)
        if n.name == "recip":
            return Scale(-1, MatMul(r, r) if n.arg.is_scalar else Hadamard(r, r))
        if n.name == "sqrt":
            return Scale(Fraction(1, 2), Fn("recip", Fn("sqrt", n.arg)))
        return n

    return map_bottom_up(e, node)


@rule("product-as-inner", "a scalar product as an inner product",
      r"A B = \left\langle A^{T}, B \right\rangle \text{ for } A B \in \mathbf{R}^{1 \times 1}")
def product_as_inner(a: Expr, b: Expr) -> Inner:
    """AB = ⟨Aᵀ, B⟩ when AB is 1×1 (AB = tr(AB) = ⟨Aᵀ, B⟩); 1×1 factors of A are their own
    transposes and stay as written."""
    return Inner(transpose_keeping_scalars(a), b)


def transpose_keeping_scalars(a: Expr) -> Expr:
    """Aᵀ with (AB)ᵀ = BᵀAᵀ pushed down, 1×1 factors of a product left as they are (sᵀ = s)."""
    if isinstance(a, MatMul) and any(f.is_scalar for f in a.args) and not a.is_scalar:
        scalars = [f for f in a.args if f.is_scalar]
        rest = [f for f in a.args if not f.is_scalar]
        body = rest[0] if len(rest) == 1 else MatMul(*rest)
        return mul(*scalars, push_transpose(Transpose(body)))
    if isinstance(a, MatMul) and all(f.is_scalar for f in a.args):
        return a
    if a.is_scalar:
        return a
    return push_transpose(Transpose(a))


@rule("hadamard-inner", "moving an entrywise factor", r"\langle A, B \odot C \rangle = \langle A \odot B, C \rangle")
def hadamard_inner(g: Expr, a: Expr, e: Expr) -> Inner:
    """⟨G, A ⊙ E⟩ = ⟨G ⊙ A, E⟩ = Σ_ij G_ij A_ij E_ij (and ⟨G, E ⊙ A⟩ likewise, ⊙ being commutative)."""
    from symderiv.lang.operators import Hadamard

    return Inner(Hadamard(g, a), e)


@rule("product-left", "moving a left factor", r"\langle G, A B \rangle = \langle A^{T} G, B \rangle")
def product_left(g: Expr, a: Expr, b: Expr) -> Inner:
    """⟨G, AB⟩ = tr(GᵀAB) = tr((AᵀG)ᵀB) = ⟨AᵀG, B⟩."""
    return Inner(mul(transpose_keeping_scalars(a), g), b)


@rule("product-right", "moving a right factor", r"\langle G, A B \rangle = \langle G B^{T}, A \rangle")
def product_right(g: Expr, a: Expr, b: Expr) -> Inner:
    """⟨G, AB⟩ = tr(GᵀAB) = tr(BGᵀA) = ⟨GBᵀ, A⟩."""
    return Inner(mul(g, push_transpose(Transpose(b))), a)


@rule("outer-product", "inner product with an outer product",
      r"\langle G, \mathbf{1} b^{T} \rangle = \langle G^{T} \mathbf{1}, b \rangle")
def outer_product(g: Expr, a: Expr, b: Expr) -> Inner:
    """⟨G, a bᵀ⟩ = aᵀGb = ⟨Gᵀa, b⟩ for column vectors a, b; with a = 𝟏, Gᵀ𝟏 sums the rows of G."""
    return Inner(mul(Transpose(g), a), b)


@rule("inner-of-transposes", "inner product of transposes", r"\langle A, B^{T} \rangle = \langle A^{T}, B \rangle")
def inner_of_transposes(g: Expr, b: Expr) -> Inner:
    """⟨G, Bᵀ⟩ = ⟨Gᵀ, B⟩ (both are Σ_ij G_ij B_ji)."""
    return Inner(transpose_keeping_scalars(g), b)


@rule("diag-inner", "inner product with a diagonal matrix",
      r"\langle A, \operatorname{diag}(u) \rangle = \langle \operatorname{diagv}(A), u \rangle")
def diag_inner(g: Expr, u: Expr) -> Inner:
    """⟨A, diag(u)⟩ = Σᵢ Aᵢᵢ uᵢ = ⟨diagv(A), u⟩ (diagv(A): the diagonal of A as a vector)."""
    from symderiv.lang.operators import DiagV

    return Inner(DiagV(g), u)


@rule("scalar-factor", "moving a scalar factor", r"\langle G, s B \rangle = \langle s G, B \rangle = s \langle G, B \rangle")
def scalar_factor(g: Expr, s: Expr, b: Expr, delta_in_s: bool) -> Inner:
    """⟨G, sB⟩ = ⟨sG, B⟩ for a 1×1 factor s; when the perturbation is in s, ⟨G, sB⟩ = ⟨⟨G, B⟩, s⟩."""
    if delta_in_s:
        return Inner(Inner(g, b), s)
    return Inner(mul(s, g), b)


@rule("ones-hadamard", "entrywise product with a constant matrix",
      r"(\mathbf{1} s) \odot A = s A,\quad \mathbf{1} \odot a = a")
def ones_hadamard(e: Expr) -> Expr:
    """𝟏 ⊙ A = A and (𝟏 s) ⊙ A = sA for a 1×1 s (𝟏 the all-ones matrix of A's shape), throughout."""
    from symderiv.lang.operators import Hadamard, Ones, map_bottom_up

    def scalar_of(x: Expr) -> Expr | None:
        """s when x is 𝟏 (s = 1, returned as the ones matrix itself) or 𝟏·s / s·𝟏 with 1×1 s."""
        if isinstance(x, Ones):
            return x
        if isinstance(x, MatMul) and len(x.args) == 2:
            a, b = x.args
            if isinstance(a, Ones) and b.is_scalar and a.shape[1] == 1:
                return b
            if isinstance(b, Ones) and a.is_scalar and b.shape[1] == 1:
                return a
        return None

    def node(n: Expr) -> Expr:
        if not isinstance(n, Hadamard):
            return n
        for one, other in ((n.left, n.right), (n.right, n.left)):
            s = scalar_of(one)
            if s is None:
                continue
            if isinstance(s, Ones):
                return other
            return mul(s, other) if not other.is_scalar else MatMul(s, other)
        return n

    return map_bottom_up(e, node)


@rule("factoring", "factoring (distributivity)", r"A B + A C = A (B + C),\quad s A + s B = s (A + B)")
def factoring(target: Expr) -> Expr:
    """AB + AC = A(B + C): the gradient rewritten in a factored form (the kernel checks the equality)."""
    return target


@rule("hypothesis", "by a stated hypothesis", r"\text{an equality that holds under the stated hypothesis (e.g. } \mathbf{1}^{T} y = 1 \text{)}")
def by_hypothesis(target: Expr) -> Expr:
    """A step that holds only under a stated hypothesis such as 𝟏ᵀy = 1; the kernel checks it under
    that hypothesis (onto substitution, Theorem D1) and the report says so."""
    return target


@rule("restatement", "restating the forward definition", r"\log \frac{e^{z}}{\mathbf{1}^{T} e^{z}} = z - \log\left(\mathbf{1}^{T} e^{z}\right) \mathbf{1}")
def restatement(target: Expr) -> Expr:
    """The forward definition rewritten into an equal form before linearising (log-softmax:
    log(e^z / 𝟏ᵀe^z) = z − log(𝟏ᵀe^z)𝟏, which needs 𝟏ᵀe^z > 0); the kernel checks the equality."""
    return target
