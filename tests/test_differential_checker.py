"""Differential property test of the checker (issue 8): random identities and derivation chains
over matrix expressions with symbolic sizes, some with one mutated step, checked against an
evaluator written here independently of symderiv's (exact Fractions at several concrete sizes).

Assertions, for every generated step:
* a step that ``verified`` agrees with the independent evaluation at every size and entry tried;
* a step that ``failed`` carries a counterexample which the independent evaluator confirms;
* a step that is true by construction verifies.
"""
from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from symderiv.derive.derivation import Derivation
from symderiv.kernel.expand import delta_degree, expand
from symderiv.kernel.verifier import verify_equal, verify_first_order
from symderiv.lang.operators import Add, Hadamard, Inner, MatMul, Scale, Sym, Trace, Transpose, Zero

N, M = "n", "m"
SYMS = {
    "A": (N, N), "B": (N, N), "W": (M, N), "x": (N, 1), "y": (N, 1), "v": (M, 1), "a": (1, 1),
}
DELTAS = {"ΔA": (N, N), "Δx": (N, 1), "ΔW": (M, N)}
SIZES = [{"n": 2, "m": 2}, {"n": 2, "m": 3}, {"n": 3, "m": 2}, {"n": 3, "m": 3}]
CHECK = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], derandomize=True)


# -- an independent evaluator ---------------------------------------------------------------
def _size(d, sizes) -> int:
    return 1 if str(d) == "1" else sizes[str(d)]


def _mm(p, q):
    if len(p[0]) != len(q):  # a 1x1 factor that does not chain scales the other one
        if len(p) == 1 and len(p[0]) == 1:
            return [[p[0][0] * t for t in row] for row in q]
        assert len(q) == 1 and len(q[0]) == 1
        return [[t * q[0][0] for t in row] for row in p]
    return [[sum(p[i][k] * q[k][j] for k in range(len(q))) for j in range(len(q[0]))] for i in range(len(p))]


def oracle(e, env, sizes):
    """The matrix of ``e`` as nested lists of Fractions, from the definitions of the operations."""
    kind = type(e).__name__
    if kind == "Sym":
        return env[e.name]
    if kind == "Zero":
        return [[Fraction(0)] * _size(e.shape[1], sizes) for _ in range(_size(e.shape[0], sizes))]
    if kind == "Scale":
        return [[e.coef * t for t in row] for row in oracle(e.arg, env, sizes)]
    if kind == "Add":
        vals = [oracle(a, env, sizes) for a in e.args]
        return [[sum(v[i][j] for v in vals) for j in range(len(vals[0][0]))] for i in range(len(vals[0]))]
    if kind == "MatMul":
        out = oracle(e.args[0], env, sizes)
        for a in e.args[1:]:
            out = _mm(out, oracle(a, env, sizes))
        return out
    if kind == "Transpose":
        m = oracle(e.arg, env, sizes)
        return [[m[i][j] for i in range(len(m))] for j in range(len(m[0]))]
    if kind == "Trace":
        m = oracle(e.arg, env, sizes)
        return [[sum(m[i][i] for i in range(len(m)))]]
    if kind == "Inner":
        p, q = oracle(e.left, env, sizes), oracle(e.right, env, sizes)
        return [[sum(p[i][j] * q[i][j] for i in range(len(p)) for j in range(len(p[0])))]]
    if kind == "Hadamard":
        p, q = oracle(e.left, env, sizes), oracle(e.right, env, sizes)
        return [[p[i][j] * q[i][j] for j in range(len(p[0]))] for i in range(len(p))]
    raise TypeError(kind)


def random_env(sizes, rng, names=None):
    table = {**SYMS, **DELTAS, "dL/dy": (M, 1)}
    return {name: [[Fraction(rng.randint(-3, 3)) for _ in range(_size(c, sizes))] for _ in range(_size(r, sizes))]
            for name, (r, c) in table.items() if names is None or name in names}


class Dual:
    """a0 + a1·t modulo t²: exact arithmetic on the parts of order 0 and 1 in t."""

    __slots__ = ("a0", "a1")

    def __init__(self, a0, a1=Fraction(0)):
        self.a0, self.a1 = Fraction(a0), Fraction(a1)

    @staticmethod
    def lift(v):
        return v if isinstance(v, Dual) else Dual(v)

    def __add__(self, o):
        o = Dual.lift(o)
        return Dual(self.a0 + o.a0, self.a1 + o.a1)

    __radd__ = __add__

    def __mul__(self, o):
        o = Dual.lift(o)
        return Dual(self.a0 * o.a0, self.a0 * o.a1 + self.a1 * o.a0)

    __rmul__ = __mul__

    def __eq__(self, o):
        o = Dual.lift(o)
        return self.a0 == o.a0 and self.a1 == o.a1

    def __repr__(self):
        return f"{self.a0}+{self.a1}t"


def t_coefficients(e, env, sizes):
    """Parts of order 0 and 1 in t of e, with every Δ symbol scaled by t (dual numbers)."""
    denv = {k: [[Dual(0, x) if k.startswith("Δ") else Dual(x) for x in row] for row in v] for k, v in env.items()}
    return oracle(e, denv, sizes)


def equal_everywhere(lhs, rhs, first_order=False, seed=0, trials=3) -> bool:
    rng = random.Random(seed)
    for sizes in SIZES:
        for _ in range(trials):
            env = random_env(sizes, rng)
            if first_order:
                if t_coefficients(lhs, env, sizes) != t_coefficients(rhs, env, sizes):
                    return False
            elif oracle(lhs, env, sizes) != oracle(rhs, env, sizes):
                return False
    return True


def confirm_counterexample(v, lhs, rhs, first_order=False) -> bool:
    cex = v.counterexample
    assert cex is not None, f"failed without a counterexample: {v.explain()}"
    sizes = {**{"n": 1, "m": 1}, **cex.sizes}
    env = random_env(sizes, random.Random(0))
    env = {k: [[Fraction(0)] * len(r) for r in val] for k, val in env.items()}  # absent symbols are 0
    for name, val in cex.values.items():
        env[name] = [[Fraction(t) for t in row] for row in val]
    if first_order:
        return t_coefficients(lhs, env, sizes) != t_coefficients(rhs, env, sizes)
    return oracle(lhs, env, sizes) != oracle(rhs, env, sizes)


# -- random expressions -----------------------------------------------------------------------
def leaf(name):
    r, c = {**SYMS, **DELTAS}[name]
    return Sym(name, r, c)


@st.composite
def exprs(draw, shape, depth=3, deltas=False):
    r, c = shape
    table = {**SYMS, **(DELTAS if deltas else {})}
    direct = [n for n, s in table.items() if s == shape]
    swapped = [n for n, s in table.items() if s == (c, r) and r != c]
    options = (["sym"] if direct else []) + (["symT"] if swapped else [])
    if depth > 0:
        options += ["add", "scale", "mul", "mul", "T"] + (["trace", "inner"] if shape == (1, 1) else []) + ["had"]
    if not options:
        options = ["mul"]
    kind = draw(st.sampled_from(options))
    d = depth - 1
    if kind == "sym":
        return leaf(draw(st.sampled_from(direct)))
    if kind == "symT":
        return Transpose(leaf(draw(st.sampled_from(swapped))))
    if kind == "add":
        return Add(draw(exprs(shape, d, deltas)), draw(exprs(shape, d, deltas)))
    if kind == "scale":
        return Scale(draw(st.sampled_from([Fraction(-1), Fraction(2), Fraction(1, 2), Fraction(-3)])),
                     draw(exprs(shape, d, deltas)))
    if kind == "mul":
        k = draw(st.sampled_from([N, M, 1]))
        return MatMul(draw(exprs((r, k), max(d, 0), deltas)), draw(exprs((k, c), max(d, 0), deltas)))
    if kind == "T":
        return Transpose(draw(exprs((c, r), d, deltas)))
    if kind == "trace":
        k = draw(st.sampled_from([N, M]))
        return Trace(draw(exprs((k, k), d, deltas)))
    if kind == "inner":
        s = draw(st.sampled_from([(N, N), (M, N), (N, 1)]))
        return Inner(draw(exprs(s, d, deltas)), draw(exprs(s, d, deltas)))
    return Hadamard(draw(exprs(shape, d, deltas)), draw(exprs(shape, d, deltas)))


def nodes_with_paths(e, path=()):
    yield path, e
    for i, ch in enumerate(e.children):
        yield from nodes_with_paths(ch, path + (i,))


def replace_at(e, path, new):
    if not path:
        return new
    kids = list(e.children)
    kids[path[0]] = replace_at(kids[path[0]], path[1:], new)
    return e.with_children(*kids)


def true_rewrites(e):
    """Identities of the language at node ``e`` (each returns an equal expression)."""
    out = []
    if isinstance(e, Transpose):
        a = e.arg
        if isinstance(a, Transpose):
            out.append(a.arg)
        if isinstance(a, MatMul) and len(a.args) == 2:
            out.append(MatMul(Transpose(a.args[1]), Transpose(a.args[0])))
        if isinstance(a, Add):
            out.append(Add(*[Transpose(t) for t in a.args]))
        if a.is_scalar:
            out.append(a)
    if isinstance(e, MatMul) and len(e.args) == 2 and isinstance(e.args[1], Add):
        p = e.args[0]
        out.append(Add(*[MatMul(p, q) for q in e.args[1].args]))
    if isinstance(e, MatMul) and len(e.args) == 2 and e.args[0].is_scalar:
        out.append(MatMul(e.args[1], e.args[0]))
    if isinstance(e, Add):
        out.append(Add(*reversed(e.args)))
    if isinstance(e, Scale) and isinstance(e.arg, Add):
        out.append(Add(*[Scale(e.coef, t) for t in e.arg.args]))
    if isinstance(e, Trace) and isinstance(e.arg, MatMul) and len(e.arg.args) == 2:
        p, q = e.arg.args
        if p.shape[1] == q.shape[0] and q.shape[1] == p.shape[0]:
            out.append(Trace(MatMul(q, p)))
    if isinstance(e, Hadamard):
        out.append(Hadamard(e.right, e.left))
    if isinstance(e, Inner):
        out.append(Trace(MatMul(Transpose(e.left), e.right)))
    out.append(Add(Scale(2, e), Scale(-1, e)))
    return out


def mutations(e):
    """Plausible slips at node ``e`` that keep the shape (dropped transpose, swapped factors,
    changed coefficient, dropped term). Some happen to be true; the oracle decides."""
    out = []
    if isinstance(e, Transpose) and e.arg.shape == e.shape:
        out.append(e.arg)
    if isinstance(e, MatMul) and len(e.args) == 2:
        p, q = e.args
        try:
            swapped = MatMul(q, p)
            if swapped.shape == e.shape:
                out.append(swapped)
        except Exception:
            pass
    if isinstance(e, Scale):
        out.append(Scale(e.coef + 1, e.arg))
    if isinstance(e, Add) and len(e.args) >= 2:
        out.append(e.args[1] if len(e.args) == 2 else Add(*e.args[1:]))
    out.append(Scale(2, e))
    return out


@st.composite
def steps(draw, deltas=False):
    shape = draw(st.sampled_from([(N, N), (N, 1), (1, 1), (M, N)]))
    lhs = draw(exprs(shape, 3, deltas))
    rhs = lhs
    for _ in range(draw(st.integers(1, 3))):
        places = list(nodes_with_paths(rhs))
        path, node = draw(st.sampled_from(places))
        rhs = replace_at(rhs, path, draw(st.sampled_from(true_rewrites(node))))
    mutated = draw(st.booleans())
    if mutated:
        places = list(nodes_with_paths(rhs))
        path, node = draw(st.sampled_from(places))
        rhs = replace_at(rhs, path, draw(st.sampled_from(mutations(node))))
    return lhs, rhs, mutated


def _check(v, lhs, rhs, mutated, first_order=False):
    assert v.status in ("verified", "failed", "undecided")
    if v.status == "verified":
        assert equal_everywhere(lhs, rhs, first_order), f"verified but false: {v.explain()}"
    if v.status == "failed":
        assert confirm_counterexample(v, lhs, rhs, first_order), f"counterexample not confirmed: {v.explain()}"
    if not mutated:
        assert v.status == "verified", v.explain()


@CHECK
@given(steps())
def test_random_identity_steps(step):
    lhs, rhs, mutated = step
    _check(verify_equal(lhs, rhs), lhs, rhs, mutated)


@CHECK
@given(steps(deltas=True))
def test_random_identity_steps_with_perturbations_exact(step):
    lhs, rhs, mutated = step
    _check(verify_equal(lhs, rhs), lhs, rhs, mutated)


def low_order_part(e):
    """Σ of the terms of order ≤ 1 in Δ (built with symderiv's expansion: generation only)."""
    terms = [(c, m) for c, m in expand(e) if delta_degree(m) <= 1]
    parts = [m if c == 1 else Scale(c, m) for c, m in terms]
    return Zero(*e.shape) if not parts else parts[0] if len(parts) == 1 else Add(*parts)


def perturbed(e, theta):
    from symderiv.lang.operators import substitute

    d = leaf("Δ" + theta.name)
    return Add(substitute(e, {theta.name: Add(theta, d)}), Scale(-1, e))


@pytest.mark.slow
@CHECK
@given(st.data())
def test_random_first_order_steps(data):
    shape = data.draw(st.sampled_from([(N, 1), (1, 1), (N, N)]))
    f = data.draw(exprs(shape, 3))
    params = [s.name for s in f.symbols() if s.name in ("A", "x", "W")]
    assume(params and sum(1 for node in f.walk() if isinstance(node, Sym)) <= 9)  # bounded cost
    theta = leaf(data.draw(st.sampled_from(params)))
    lhs = perturbed(f, theta)
    rhs = low_order_part(lhs)
    mutated = data.draw(st.booleans())
    if mutated:
        path, node = data.draw(st.sampled_from(list(nodes_with_paths(rhs))))
        rhs = replace_at(rhs, path, data.draw(st.sampled_from(mutations(node))))
    _check(verify_first_order(lhs, rhs), lhs, rhs, mutated, first_order=True)


# -- derivation chains ----------------------------------------------------------------------------
A, W, x, g, G = leaf("A"), leaf("W"), leaf("x"), Sym("g", M, 1), Sym("G", M, N)
dA, dW, dx = leaf("ΔA"), leaf("ΔW"), leaf("Δx")

#: (title, output, forward, wrt, chain of (kind, rhs) after the definitions, gradient)
LAYERS = [
    ("linear in W", Sym("y", M, 1), MatMul(W, x), W,
     [("perturb", MatMul(dW, x))], MatMul(Sym("dL/dy", M, 1), Transpose(x))),
    ("linear in x", Sym("y", M, 1), MatMul(W, x), x,
     [("perturb", MatMul(W, dx))], MatMul(Transpose(W), Sym("dL/dy", M, 1))),
    ("quadratic form", Sym("q", 1, 1), MatMul(Transpose(x), A, x), x,
     [("perturb", Add(MatMul(Transpose(dx), A, x), MatMul(Transpose(x), A, dx), MatMul(Transpose(dx), A, dx)))],
     MatMul(Add(A, Transpose(A)), x)),
]


def _chain_lines(layer):
    """Lines of a correct derivation: Δy, ΔL, then rewrites to ⟨G, Δθ⟩."""
    title, out, f, theta, defs, grad = layer
    dtheta = leaf("Δ" + theta.name)
    return grad, dtheta, [("perturb", defs[0][1]), ("eq", Inner(grad, dtheta))]


@pytest.mark.parametrize("index", range(len(LAYERS)))
def test_derivation_chains_correct(index):
    layer = LAYERS[index]
    title, out, f, theta, _, grad = layer
    d = Derivation(title, out, f, theta, is_loss=out.is_scalar)
    d.perturb(_chain_lines(layer)[2][0][1])
    if not d.is_loss:
        d.loss_differential()
    d.read_off(grad if not d.is_loss else MatMul(Add(A, Transpose(A)), x))
    d.check()
    assert d.status == "verified", d.explain()


@pytest.mark.slow
@CHECK
@given(st.sampled_from(range(len(LAYERS))), st.integers(0, 10 ** 6))
def test_derivation_chains_mutated(index, seed):
    """One mutated line in a correct derivation: every line the checker verifies is true for the
    independent evaluator (exactly for the definition Δy, to first order for the read-off), every
    false line is not verified, and the derivation verifies exactly when all its lines are true."""
    title, out, f, theta, defs, grad = LAYERS[index]
    is_loss = out.is_scalar
    dtheta = leaf("Δ" + theta.name)
    perturb_rhs = defs[0][1]
    if is_loss:
        grad = MatMul(Add(A, Transpose(A)), x)
    rng = random.Random(seed)
    if rng.random() < 0.5:
        path, node = rng.choice(list(nodes_with_paths(perturb_rhs)))
        perturb_rhs = replace_at(perturb_rhs, path, rng.choice(mutations(node)))
    else:
        path, node = rng.choice(list(nodes_with_paths(grad)))
        grad = replace_at(grad, path, rng.choice(mutations(node)))
    d = Derivation(title, out, f, theta, is_loss=is_loss)
    d.perturb(perturb_rhs)
    if not is_loss:
        d.loss_differential()
    d.read_off(grad)
    d.check(jacobian=True)

    exact_dy = perturbed(f, theta)
    upstream = None if is_loss else Sym("dL/d" + out.name, out.shape[0], 1)
    true_dl = exact_dy if is_loss else Inner(upstream, exact_dy)
    claimed = Inner(grad, dtheta)
    truth_perturb = equal_everywhere(perturb_rhs, exact_dy)
    # the read-off line is compared with the line before it, as written (ΔL, or Δq for a loss)
    truth_readoff = equal_everywhere(perturb_rhs if is_loss else true_dl, claimed, first_order=True)
    truth_gradient = equal_everywhere(true_dl, claimed, first_order=True)

    perturb_step, readoff_step = d.steps[0], d.steps[-1]
    assert (perturb_step.status == "verified") == truth_perturb, d.explain()
    if readoff_step.status == "verified":
        assert truth_readoff, d.explain()
    elif truth_readoff:
        assert readoff_step.status == "verified", d.explain()
    assert (d.jacobian.status == "verified") == truth_gradient, d.explain()
    if d.status == "verified":
        assert truth_perturb and truth_readoff and truth_gradient
    if perturb_step.status == "failed":
        assert confirm_counterexample(perturb_step.verdict, perturb_rhs, exact_dy), d.explain()
