"""The independent Jacobian cross-check and the traps that fool checks at small sizes."""
from symderiv.kernel.evaluate import Deadline, polynomial_identity
from symderiv.kernel.jacobian import check_gradient
from symderiv.lang.operators import Add, MatMul, Scale, Sym, Trace, Transpose, grad_of


def T(a):
    return Transpose(a)


def tr(*fs):
    return Trace(fs[0] if len(fs) == 1 else MatMul(*fs))


def test_linear_gradients():
    x, w, y = Sym("x", "n", 1), Sym("w", "m", "n"), Sym("y", "m", 1)
    g = grad_of(y)
    assert check_gradient(MatMul(w, x), w, MatMul(g, T(x)), g).status == "verified"
    assert check_gradient(MatMul(w, x), x, MatMul(T(w), g), g).status == "verified"
    v = check_gradient(MatMul(w, x), w, MatMul(x, T(g)), g)
    assert v.status == "failed" and "shape" in v.reason


def test_trace_quadratic_and_the_cayley_hamilton_trap():
    """A wrong gradient of tr(AXBXᵀ) that equals the right one for every n ≤ 2 (design note §3.1)."""
    A, B, C, X = (Sym(c, "n", "n") for c in "ABCX")
    L = tr(A, X, B, T(X))
    right = Add(MatMul(T(A), X, T(B)), MatMul(A, X, B))
    assert check_gradient(L, X, right).status == "verified"
    # gradient of F3(A, B, XC), which vanishes identically on 2×2 matrices
    f3grad = Add(
        MatMul(T(MatMul(A, B)), T(C)), MatMul(T(MatMul(B, A)), T(C)),
        Scale(-1, MatMul(tr(A, B), T(C))), Scale(-1, MatMul(tr(B), T(A), T(C))),
        Scale(-1, MatMul(tr(A), T(B), T(C))), MatMul(tr(A), tr(B), T(C)),
    )
    wrong = Add(right, f3grad)
    dl = Deadline(60)
    zero = Scale(0, T(C))
    assert polynomial_identity(f3grad, zero, {"n": 2}, dl)  # invisible at n ≤ 2
    v = check_gradient(L, X, wrong)
    assert v.status == "failed"
    assert v.counterexample.sizes == {"n": 3}


def test_sympy_diff_blind_spots_are_not_ours():
    """SymPy 1.14 returns 0 for d/dA [tr(AᵀA) + tr(BᵀB)] (sympy#26585); we compute 2A."""
    A, B = Sym("A", "n", "n"), Sym("B", "n", "n")
    L = Add(tr(T(A), A), tr(T(B), B))
    assert check_gradient(L, A, Scale(2, A)).status == "verified"
    assert check_gradient(L, A, Scale(0, A)).status == "failed"
