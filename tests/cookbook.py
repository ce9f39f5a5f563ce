"""A corpus of Matrix Cookbook chapter-2 identities (inverses, determinants, log-determinants,
traces and quadratic forms with inverses), each with one plausible wrong twin.

Every entry is a claim ``lhs = rhs`` (``exact``) or ``lhs ≐ rhs`` (``first-order`` in the
perturbation), with the hypotheses it needs. A gradient G of a scalar f is stated the way the seed
notes derive it: f(X + ΔX) ≐ f(X) + ⟨G, ΔX⟩.

The corpus is checked twice in ``tests/test_cookbook.py``: by symderiv's kernel (each true entry
verified, or undecided for a reason listed in ``UNDECIDED``; each twin failed), and numerically with
NumPy floats by central finite differences at several sizes, by an evaluator written for the test,
so that the corpus itself is right independently of the kernel.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from symderiv.kernel.decide import Hypothesis
from symderiv.lang.operators import (
    Add,
    Det,
    Expr,
    Fn,
    Identity,
    Inner,
    Inv,
    LogDet,
    MatMul,
    Scale,
    Sym,
    Trace,
    Transpose,
    delta_of,
)

n, k, m = "n", "k", "m"
X, A, B, C, Y = (Sym(s, n, n) for s in "XABCY")
S = Sym("S", n, n)  # a covariance-like matrix
a, b, x, mu = Sym("a", n, 1), Sym("b", n, 1), Sym("x", n, 1), Sym("mu", n, 1)
U, V = Sym("U", n, k), Sym("V", n, k)
Xr, w, y = Sym("Z", m, n), Sym("w", n, 1), Sym("y", m, 1)  # a data matrix m×n, weights, targets
lam = Sym("lam", 1, 1)
dX, dS, dmu, dw = delta_of(X), delta_of(S), delta_of(mu), delta_of(w)
I = Identity(n)  # noqa: E741 — the identity matrix, as the Cookbook writes it
Ik = Identity(k)
T, inv, det, logdet, tr = Transpose, Inv, Det, LogDet, Trace


def mul(*f: Expr) -> Expr:
    return MatMul(*f)


def neg(e: Expr) -> Expr:
    return Scale(-1, e)


def half(e: Expr) -> Expr:
    return Scale(Fraction(1, 2), e)


@dataclass(frozen=True)
class Entry:
    name: str
    lhs: Expr
    rhs: Expr
    wrong: Expr  # the twin's right side (same left side)
    relation: Literal["exact", "first-order"] = "exact"
    hypotheses: tuple[Hypothesis, ...] = ()
    wrong_hypotheses: tuple[Hypothesis, ...] | None = None  # default: the same as the true entry's
    #: the direction symbols of a first-order claim (for the numeric check)
    deltas: tuple[Sym, ...] = field(default=())


def gradient(name: str, f: Expr, wrt: Sym, g: Expr, wrong: Expr, hyps: tuple[Hypothesis, ...] = (),
             wrong_hyps: tuple[Hypothesis, ...] | None = None) -> Entry:
    """f(θ + Δθ) ≐ f(θ) + ⟨G, Δθ⟩: G is the gradient of the scalar f."""
    d = delta_of(wrt)
    moved = _perturb(f, wrt, d)
    return Entry(name, moved, Add(f, Inner(g, d)), Add(f, Inner(wrong, d)), "first-order", hyps, wrong_hyps, (d,))


def differential(name: str, f: Expr, wrt: Sym, df: Expr, wrong: Expr, hyps: tuple[Hypothesis, ...] = ()) -> Entry:
    """F(θ + Δθ) ≐ F(θ) + dF."""
    d = delta_of(wrt)
    return Entry(name, _perturb(f, wrt, d), Add(f, df), Add(f, wrong), "first-order", hyps, None, (d,))


def _perturb(e: Expr, s: Sym, d: Sym) -> Expr:
    from symderiv.lang.operators import substitute

    return substitute(e, {s.name: Add(s, d)})


def inv_(h: Sym) -> Hypothesis:
    return Hypothesis("invertible", h)


def detpos(h: Sym) -> Hypothesis:
    return Hypothesis("detpos", h)


def symmetric(h: Sym) -> Hypothesis:
    return Hypothesis("symmetric", h)


Xi, Xt, XiT = inv(X), T(X), T(inv(X))

CORPUS: list[Entry] = [
    # --- exact identities (Cookbook 2.x: inverses and determinants) ---
    Entry("(AB)^-1 = B^-1 A^-1", inv(mul(A, B)), mul(inv(B), inv(A)), mul(inv(A), inv(B))),
    Entry("(A^T)^-1 = (A^-1)^T", inv(T(A)), T(inv(A)), inv(A)),
    Entry("(A^-1)^-1 = A", inv(inv(A)), A, T(A)),
    Entry("(2A)^-1 = 1/2 A^-1", inv(Scale(2, A)), half(inv(A)), Scale(2, inv(A))),
    Entry("(ABC)^-1 = C^-1 B^-1 A^-1", inv(mul(A, B, C)), mul(inv(C), inv(B), inv(A)), mul(inv(C), inv(A), inv(B))),
    Entry("tr(X A X^-1) = tr A", tr(mul(X, A, Xi)), tr(A), tr(mul(X, A, XiT))),
    Entry("tr(X^-1 X) = tr I", tr(mul(Xi, X)), tr(I), tr(X)),
    Entry("A^-1 A B = B", mul(inv(A), A, B), B, mul(A, inv(A), T(B))),
    Entry("det(AB) = det A det B", det(mul(A, B)), mul(det(A), det(B)), Add(det(A), det(B))),
    Entry("det(A^T) = det A", det(T(A)), det(A), neg(det(A))),
    Entry("det(A^-1) = 1/det A", det(inv(A)), Fn("recip", det(A)), det(A)),
    Entry("det(A B A^-1) = det B", det(mul(A, B, inv(A))), det(B), mul(det(A), det(B))),
    Entry("logdet(A^-1) = -logdet A", logdet(inv(A)), neg(logdet(A)), logdet(A), hypotheses=(detpos(A),)),
    Entry("logdet(A^T) = logdet A", logdet(T(A)), logdet(A), neg(logdet(A)), hypotheses=(detpos(A),)),
    Entry("logdet(AB) = logdet A + logdet B (A, B with det > 0)", logdet(mul(A, B)), Add(logdet(A), logdet(B)),
          Add(logdet(A), neg(logdet(B))), hypotheses=(detpos(A), detpos(B))),
    Entry("(A^-1)^T B^T = (B A^-1)^T", mul(T(inv(A)), T(B)), T(mul(B, inv(A))), mul(T(B), T(inv(A)))),
    Entry("ridge normal equations: (Z^T Z + lam I) w* - Z^T y = 0",
          Add(mul(Add(mul(T(Xr), Xr), mul(lam, I)), inv(Add(mul(T(Xr), Xr), mul(lam, I))), T(Xr), y),
              neg(mul(T(Xr), y))),
          Scale(0, w), mul(T(Xr), y)),
    Entry("Woodbury, step 2: (I + V^T A^-1 U)(I + V^T A^-1 U)^-1 = I",
          mul(Add(Ik, mul(T(V), inv(A), U)), inv(Add(Ik, mul(T(V), inv(A), U)))), Ik,
          mul(T(V), inv(A), U)),
    Entry("push-through: (I + AB)^-1 A = A (I + BA)^-1", mul(inv(Add(I, mul(A, B))), A),
          mul(A, inv(Add(I, mul(B, A)))), mul(A, inv(Add(I, mul(A, B))))),
    Entry("A (I + A)^-1 = (I + A)^-1 A", mul(A, inv(Add(I, A))), mul(inv(Add(I, A)), A),
          mul(inv(Add(I, A)), T(A))),
    # --- differentials (Cookbook 2.2) ---
    differential("d(X^-1) = -X^-1 dX X^-1", Xi, X, neg(mul(Xi, dX, Xi)), neg(mul(Xi, Xi, dX))),
    differential("d(X^-T) = -X^-T dX^T X^-T", XiT, X, neg(mul(XiT, T(dX), XiT)), neg(mul(XiT, dX, XiT))),
    differential("d((X + A)^-1) = -(X + A)^-1 dX (X + A)^-1", inv(Add(X, A)), X,
                 neg(mul(inv(Add(X, A)), dX, inv(Add(X, A)))), neg(mul(inv(Add(X, A)), inv(Add(X, A)), dX))),
    differential("d(A X^-1 B) = -A X^-1 dX X^-1 B", mul(A, Xi, B), X, neg(mul(A, Xi, dX, Xi, B)),
                 neg(mul(A, Xi, dX, B, Xi))),
    differential("d(X^-1 A X) = -X^-1 dX X^-1 A X + X^-1 A dX", mul(Xi, A, X), X,
                 Add(neg(mul(Xi, dX, Xi, A, X)), mul(Xi, A, dX)), mul(Xi, A, dX)),
    differential("d det X = det X tr(X^-1 dX) (X invertible)", det(X), X, mul(det(X), tr(mul(Xi, dX))),
                 mul(det(X), tr(dX)), (inv_(X),)),
    differential("d logdet X = tr(X^-1 dX)", logdet(X), X, tr(mul(Xi, dX)), tr(mul(XiT, dX)), (detpos(X),)),
    differential("d det(X^-1) = -det(X^-1) tr(X^-1 dX)", det(Xi), X, neg(mul(det(Xi), tr(mul(Xi, dX)))),
                 mul(det(Xi), tr(mul(Xi, dX)))),
    differential("d tr(X^-1) = -tr(X^-1 dX X^-1)", tr(Xi), X, neg(tr(mul(Xi, dX, Xi))), neg(tr(mul(Xi, dX)))),
    # --- gradients of scalars (Cookbook 2.1, 2.2) ---
    gradient("grad det X = det X X^-T (X invertible)", det(X), X, mul(det(X), XiT), mul(det(X), Xi), (inv_(X),)),
    gradient("grad logdet X = X^-T", logdet(X), X, XiT, Xi, (detpos(X),)),
    gradient("grad logdet(X^T X) = 2 X^-T", logdet(mul(Xt, X)), X, Scale(2, XiT), XiT),
    gradient("grad det(A X B) = det(A X B) X^-T (invertible)", det(mul(A, X, B)), X, mul(det(mul(A, X, B)), XiT),
             mul(det(mul(A, X, B)), Xi), (inv_(X), inv_(A), inv_(B))),
    gradient("grad det(X^T) = det X X^-T (X invertible)", det(Xt), X, mul(det(X), XiT), mul(det(X), X), (inv_(X),)),
    gradient("grad det(X^-1) = -det(X^-1) X^-T", det(Xi), X, neg(mul(det(Xi), XiT)), mul(det(Xi), XiT)),
    gradient("grad logdet(X^-1) = -X^-T", logdet(Xi), X, neg(XiT), XiT, (detpos(X),)),
    gradient("grad det(X X) = 2 det(X)^2 X^-T (X invertible)", det(mul(X, X)), X,
             Scale(2, mul(det(X), det(X), XiT)), mul(det(X), det(X), XiT), (inv_(X),)),
    gradient("grad tr(A X^-1 B) = -X^-T A^T B^T X^-T", tr(mul(A, Xi, B)), X, neg(mul(XiT, T(A), T(B), XiT)),
             neg(mul(Xi, T(A), T(B), Xi))),
    gradient("grad a^T X^-1 b = -X^-T a b^T X^-T", mul(T(a), Xi, b), X, neg(mul(XiT, a, T(b), XiT)),
             neg(mul(XiT, b, T(a), XiT))),
    gradient("grad b^T X^-T a = -X^-T a b^T X^-T", mul(T(b), XiT, a), X, neg(mul(XiT, a, T(b), XiT)),
             neg(mul(Xi, a, T(b), Xi))),
    gradient("grad tr(X^-1) = -(X^-1 X^-1)^T", tr(Xi), X, neg(T(mul(Xi, Xi))), neg(mul(Xi, Xi))),
    gradient("grad tr(X^-1 A) = -X^-T A^T X^-T", tr(mul(Xi, A)), X, neg(mul(XiT, T(A), XiT)), neg(mul(XiT, A, XiT))),
    gradient("grad tr(X^-1 A X) = 0", tr(mul(Xi, A, X)), X, Scale(0, X), T(A)),
    gradient("grad tr((X + A)^-1) = -((X + A)^-1 (X + A)^-1)^T", tr(inv(Add(X, A))), X,
             neg(T(mul(inv(Add(X, A)), inv(Add(X, A))))), neg(mul(inv(Add(X, A)), inv(Add(X, A))))),
    gradient("grad tr(X^-1 A X^-1) = -(X^-1 A X^-1 X^-1 + X^-1 X^-1 A X^-1)^T", tr(mul(Xi, A, Xi)), X,
             neg(T(Add(mul(Xi, A, Xi, Xi), mul(Xi, Xi, A, Xi)))), neg(Add(mul(Xi, A, Xi, Xi), mul(Xi, Xi, A, Xi)))),
    gradient("grad x^T A^-1 x (in x) = (A^-1 + A^-T) x", mul(T(x), inv(A), x), x, mul(Add(inv(A), T(inv(A))), x),
             Scale(2, mul(inv(A), x))),
    gradient("Gaussian: grad_mu (x - mu)^T S^-1 (x - mu) = -2 S^-1 (x - mu) (S symmetric)",
             mul(T(Add(x, neg(mu))), inv(S), Add(x, neg(mu))), mu, Scale(-2, mul(inv(S), Add(x, neg(mu)))),
             Scale(-1, mul(inv(S), Add(x, neg(mu)))), (symmetric(S),)),
    gradient("Gaussian NLL: grad_S of 1/2 logdet S + 1/2 (x - mu)^T S^-1 (x - mu)",
             Add(half(logdet(S)), half(mul(T(Add(x, neg(mu))), inv(S), Add(x, neg(mu))))), S,
             Add(half(T(inv(S))), neg(half(mul(T(inv(S)), Add(x, neg(mu)), T(Add(x, neg(mu))), T(inv(S)))))),
             Add(half(T(inv(S))), half(mul(T(inv(S)), Add(x, neg(mu)), T(Add(x, neg(mu))), T(inv(S))))),
             (detpos(S),)),
    gradient("ridge: grad_w 1/2 |Zw - y|^2 + lam/2 |w|^2 = Z^T(Zw - y) + lam w",
             Add(half(Inner(Add(mul(Xr, w), neg(y)), Add(mul(Xr, w), neg(y)))), half(mul(lam, Inner(w, w)))), w,
             Add(mul(T(Xr), Add(mul(Xr, w), neg(y))), mul(lam, w)), mul(T(Xr), Add(mul(Xr, w), neg(y)))),
    # --- the domain traps of §6.6 and §10 ---
    Entry("Woodbury with A invertible, step 1 (K^-1 as an opaque Z)",
          mul(Add(A, mul(U, T(V))), Add(inv(A), neg(mul(inv(A), U, Sym("W", k, k), T(V), inv(A))))),
          Add(I, mul(U, T(V), inv(A)), neg(mul(U, Add(Ik, mul(T(V), inv(A), U)), Sym("W", k, k), T(V), inv(A)))),
          Add(I, mul(U, T(V), inv(A)), neg(mul(U, Sym("W", k, k), T(V), inv(A)))), hypotheses=(inv_(A),)),
]

#: True entries the kernel leaves undecided, and why (the README lists them).
UNDECIDED = {
    "push-through: (I + AB)^-1 A = A (I + BA)^-1":
        "relations between inverses of different sums need noncommutative Gröbner-style reasoning (§6.5)",
    "A (I + A)^-1 = (I + A)^-1 A":
        "commuting a matrix past the inverse of a sum that contains it is not free cancellation (§6.5)",
    "logdet(AB) = logdet A + logdet B (A, B with det > 0)":
        "log det(AB) is split only under det A > 0 and det B > 0, which lowering does not consult",
}

#: Wrong twins whose failure the kernel reports only as undecided: none may be verified.
TWIN_UNDECIDED: dict[str, str] = {}

#: Claims stated without the hypothesis they need: false on domain grounds (a witness exists).
DOMAIN_TRAPS: list[Entry] = [
    differential("d det X = det X tr(X^-1 dX) for all X", det(X), X, mul(det(X), tr(mul(Xi, dX))),
                 mul(det(X), tr(mul(Xi, dX)))),
    Entry("logdet(AB) = logdet A + logdet B for all A, B", logdet(mul(A, B)), Add(logdet(A), logdet(B)),
          Add(logdet(A), logdet(B))),
    Entry("Woodbury without A invertible",
          inv(Add(A, mul(U, T(V)))),
          Add(inv(A), neg(mul(inv(A), U, inv(Add(Ik, mul(T(V), inv(A), U))), T(V), inv(A)))),
          inv(A)),
    Entry("X = (X^-1)^-1", X, inv(inv(X)), inv(inv(X))),
    Entry("logdet(X^T X) = 2 logdet X", logdet(mul(Xt, X)), Scale(2, logdet(X)), Scale(2, logdet(X))),
]
