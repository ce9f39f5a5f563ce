"""Cross-validation of the sequence procedure against exact evaluation on random inputs.

A verdict 'verified' must agree with every random evaluation; a 'failed' must carry a
counterexample that really separates the sides. Candidates mix sound rewrites (the notes'
properties, commutativity, linearity) with typical mistakes (⊙ for ⊗, swapped arguments,
a dropped term, a wrong finite mode)."""
import random

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv import verify_equal
from symderiv.kernel.seqeval import seq_evaluate
from symderiv.lang.operators import Add, Conv, Corr, Ext, Inner, Scale, Sym, Window

SEQ = [Sym(c, "oo", 1) for c in "ABCD"]


def clean(v):
    return {i: x for i, x in v.items() if x} if isinstance(v, dict) else v


def rand_env(rng, names):
    return {n: {i: rng.randint(-3, 3) for i in range(rng.randint(-2, 0), rng.randint(1, 3))} for n in names}


def rand_seq(rng, depth):
    if depth == 0:
        return rng.choice(SEQ)
    k = rng.randrange(4)
    a, b = rand_seq(rng, depth - 1), rand_seq(rng, depth - 1)
    return [Corr(a, b), Conv(a, b), Add(a, b), Scale(rng.choice([2, -1]), a)][k]


def variants(e):
    """Sound and unsound rewrites of a sequence expression."""
    out = []
    if isinstance(e, Conv):
        out += [Conv(e.right, e.left), Corr(e.left, e.right), Conv(e.left, e.left)]
    if isinstance(e, Corr):
        out += [Corr(e.right, e.left), Conv(e.left, e.right)]
    if isinstance(e, Add):
        out += [Add(e.args[1], e.args[0]), e.args[0]]
    return out


_seq_exprs = st.recursive(
    st.sampled_from(SEQ),
    lambda inner: st.one_of(
        st.builds(Corr, inner, inner), st.builds(Conv, inner, inner), st.builds(Add, inner, inner),
        st.builds(Scale, st.sampled_from([2, -1]), inner)),
    max_leaves=4,
)
_sequences = (st.builds(
    lambda lo, vals: {lo + i: v for i, v in enumerate(vals)},
    st.integers(-2, 0), st.lists(st.integers(-3, 3), min_size=1, max_size=5)))


def _check_against_evaluation(lhs, rhs, envs) -> str:
    """The verdict on lhs = rhs must agree with exact evaluation: verified ⇒ equal on every env;
    failed ⇒ its counterexample separates the sides."""
    v = verify_equal(lhs, rhs)
    if v.status == "verified":
        for env in envs:
            assert clean(seq_evaluate(lhs, env, {})) == clean(seq_evaluate(rhs, env, {})), (lhs, rhs, env)
    elif v.status == "failed":
        cex = v.counterexample
        assert cex is not None, (lhs, rhs)
        env = {k: {int(i): x for i, x in val.items()} if isinstance(val, dict) else
               {i: row[0] for i, row in enumerate(val)} for k, val in cex.values.items()}
        assert clean(seq_evaluate(lhs, env, {})) != clean(seq_evaluate(rhs, env, {})), (lhs, rhs, env)
    return v.status


@settings(max_examples=60, deadline=None)
@given(e=_seq_exprs, probe=st.sampled_from(SEQ), envs=st.lists(
    st.fixed_dictionaries({s.name: _sequences for s in SEQ}), min_size=1, max_size=4))
def test_random_sequence_identities_agree_with_evaluation(e, probe, envs):
    """Sound rewrites and typical mistakes of a random sequence expression (hypothesis shrinks a
    disagreement to the smallest expression and sequences)."""
    for f in variants(e) + [e]:
        for lhs, rhs in [(e, f), (Inner(probe, e), Inner(probe, f))]:
            _check_against_evaluation(lhs, rhs, envs)


def test_the_sequence_cross_check_sees_both_verdicts():
    """The property above is not vacuous: on fixed expressions it meets verified and failed claims."""
    A, B, C = SEQ[:3]
    envs = [{n: {0: 1, 1: -2, 2: 3} for n in "ABCD"}]
    assert _check_against_evaluation(Conv(A, B), Conv(B, A), envs) == "verified"
    assert _check_against_evaluation(Corr(A, B), Corr(B, A), envs) == "failed"
    assert _check_against_evaluation(Add(Conv(A, B), C), Conv(A, B), envs) == "failed"
    assert _check_against_evaluation(Inner(C, Corr(A, B)), Inner(Corr(A, B), C), envs) == "verified"


def test_random_finite_mode_gradients_agree_with_evaluation():
    """⟨g, op_mode(x, w)⟩ = ⟨x, candidate⟩ for right and wrong candidates, at random lengths."""
    x, w = Sym("x", "n", 1), Sym("w", "k", 1)
    n_, k_ = sympy.Symbol("n"), sympy.Symbol("k")
    rng = random.Random(9)
    checked = 0
    for op in (Corr, Conv):
        for mode in ("valid", "full", "same"):
            y = op(x, w, mode)
            g = Sym("g", y.shape[0], 1)
            o, L = y.window()
            cands = [Window(Conv(Ext(g), Ext(w)) if op is Corr else Corr(Ext(g), Ext(w)), -o + s, "n")
                     for s in (-1, 0, 1)]
            for cand in cands:
                v = verify_equal(Inner(g, y), Inner(x, cand))
                for _ in range(6):
                    nn = rng.randint(1, 7)
                    kk = rng.randint(1, nn)
                    params = {n_: nn, k_: kk}
                    glen = int(sympy.sympify(y.shape[0]).subs(params))
                    env = {"x": {i: rng.randint(-3, 3) for i in range(nn)}, "w": {i: rng.randint(-3, 3) for i in range(kk)},
                           "g": {i: rng.randint(-3, 3) for i in range(glen)}}
                    same = seq_evaluate(Inner(g, y), env, params) == seq_evaluate(Inner(x, cand), env, params)
                    if v.status == "verified":
                        assert same, (op.__name__, mode, cand, params)
                checked += 1
                assert v.status in ("verified", "failed")
    assert checked == 18
