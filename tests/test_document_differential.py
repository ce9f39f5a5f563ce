"""Differential property test of *documents* (issue 8, "How to make sure").

Hypothesis writes small derivation documents in Markdown the way authors do (a heading, prose
declarations, display-math identity chains with several ``=`` and ``=``-continuation lines, and one
Δ-derivation ``y = f(x)``, ``\\Delta y = ...``, ``\\Delta L = \\langle \\frac{dL}{dy}, \\Delta y \\rangle
= ...``, ``\\Rightarrow \\frac{dL}{dw} = ...``), every line built from an expression tree that this file
also evaluates itself: exact ``Fraction`` entries in numpy object arrays, at several concrete sizes with
random non-symmetric integer matrices.  True lines come from true rewrites (transpose of a product,
trace cycling, inner product as a trace, distributivity, scalar moves, ...); in some documents exactly
one entry is then mutated with a plausible slip (dropped or added transpose, swapped factors, a
non-cyclic trace permutation, a changed coefficient, a dropped term, a transposed gradient) and the
evaluator here decides whether the mutant is really false (a mutation can stay true).

The document goes through :func:`symderiv.documents.check_text`; its steps are mapped back to the
entries of each line by ``step.line`` and their order on the line.  Asserted:

1. soundness: no entry that this evaluator finds false is ``verified`` (against its predecessor and
   against the chain's first entry alike), and no chain containing a false entry verifies entirely;
2. every ``failed`` step is false under this evaluator (against its predecessor or the chain's first
   entry), and a counterexample given for a claim really separates its two sides here;
3. an unmutated document verifies entirely, and every equation written is a step (none skipped).

A few documents also go through ``symderiv check --format json`` in-process; the JSON must agree.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symderiv.cli import main
from symderiv.documents.documents import check_text

# -- the expression tree ---------------------------------------------------------------------------
# ('s', name) symbol · ('d', name) Δname · ('g', out) dL/d out · ('T', e) · ('mul', (e, ...)) ·
# ('add', (e, ...)) · ('k', Fraction | 'a', e) scalar multiple · ('tr', e) · ('ip', e, e) ⟨·,·⟩ ·
# ('n2', e) squared (Frobenius) norm
SHAPES = {"A": ("n", "n"), "B": ("n", "n"), "C": ("n", "n"), "W": ("m", "n"), "x": ("n", "1"),
          "v": ("m", "1"), "a": ("1", "1"), "y": ("m", "1"), "z": ("n", "1"), "q": ("1", "1"),
          "L": ("1", "1")}
SIZES = [{"n": 2, "m": 3}, {"n": 3, "m": 2}, {"n": 3, "m": 3}]


class IllTyped(Exception):
    pass


def shape(e) -> tuple:
    k = e[0]
    if k in ("s", "d", "g"):
        return SHAPES[e[1]]
    if k == "dL":
        return ("1", "1")
    if k == "T":
        r, c = shape(e[1])
        return (c, r)
    if k == "mul":
        r, c = shape(e[1][0])
        for f in e[1][1:]:
            r2, c2 = shape(f)
            if c != r2:
                raise IllTyped(e)
            c = c2
        return (r, c)
    if k == "add":
        s = shape(e[1][0])
        if any(shape(t) != s for t in e[1][1:]):
            raise IllTyped(e)
        return s
    if k == "k":
        return shape(e[2])
    if k == "tr":
        r, c = shape(e[1])
        if r != c:
            raise IllTyped(e)
        return ("1", "1")
    if k == "ip":
        if shape(e[1]) != shape(e[2]):
            raise IllTyped(e)
        return ("1", "1")
    if k == "n2":
        shape(e[1])
        return ("1", "1")
    raise AssertionError(e)


def well_typed(e) -> bool:
    try:
        shape(e)
        return True
    except IllTyped:
        return False


def S(name):
    return ("s", name)


def T(e):
    return ("T", e)


def mul(*fs):
    out = []
    for f in fs:
        out += list(f[1]) if f[0] == "mul" else [f]
    return out[0] if len(out) == 1 else ("mul", tuple(out))


def add(*ts):
    out = []
    for t in ts:
        out += list(t[1]) if t[0] == "add" else [t]
    return out[0] if len(out) == 1 else ("add", tuple(out))


def k(c, e):
    return ("k", c if c == "a" else Fraction(c), e)


# -- the independent evaluator ---------------------------------------------------------------------
def value(e, env: dict) -> np.ndarray:
    """The matrix of ``e`` from the definitions of the operations (object arrays of Fractions)."""
    kind = e[0]
    if kind == "s":
        return env[e[1]]
    if kind == "d":
        return env["Δ" + e[1]]
    if kind == "g":
        return env["g" + e[1]]
    if kind == "dL":
        return env["dL"]
    if kind == "T":
        return value(e[1], env).T
    if kind == "mul":
        out = value(e[1][0], env)
        for f in e[1][1:]:
            out = out.dot(value(f, env))
        return out
    if kind == "add":
        out = value(e[1][0], env)
        for t in e[1][1:]:
            out = out + value(t, env)
        return out
    if kind == "k":
        c = env["a"][0, 0] if e[1] == "a" else e[1]
        return value(e[2], env) * c
    if kind == "tr":
        m = value(e[1], env)
        return np.array([[sum((m[i, i] for i in range(m.shape[0])), Fraction(0))]], dtype=object)
    if kind == "ip":
        p, q = value(e[1], env), value(e[2], env)
        return np.array([[sum((p * q).flat, Fraction(0))]], dtype=object)
    if kind == "n2":
        p = value(e[1], env)
        return np.array([[sum((p * p).flat, Fraction(0))]], dtype=object)
    raise AssertionError(e)


def rand_matrix(rng: random.Random, r: int, c: int) -> np.ndarray:
    while True:
        m = np.array([[Fraction(rng.randint(-9, 9)) for _ in range(c)] for _ in range(r)], dtype=object)
        if r != c or r == 1 or (m != m.T).any():  # square matrices are never symmetric
            return m


# -- random expressions and true rewrites ----------------------------------------------------------
ATOMS = {("n", "n"): ["A", "B", "C"], ("m", "n"): ["W"], ("n", "1"): ["x"], ("m", "1"): ["v"]}


def atom(rng: random.Random, sh: tuple):
    if sh in ATOMS:
        return S(rng.choice(ATOMS[sh]))
    if (sh[1], sh[0]) in ATOMS:
        return T(S(rng.choice(ATOMS[(sh[1], sh[0])])))
    return None


def gen(rng: random.Random, sh: tuple, depth: int):
    """A random well-typed expression of shape ``sh`` (never a 1×1 factor inside a product)."""
    a = atom(rng, sh)
    if sh == ("1", "1"):
        mid = rng.choice(["n", "n", "m"])
        choice = rng.random()
        if choice < 0.4:
            return mul(gen(rng, ("1", mid), depth - 1), gen(rng, (mid, "1"), depth - 1))
        if choice < 0.7:
            return ("tr", gen(rng, ("n", "n"), depth - 1))
        return ("ip", gen(rng, ("n", "n"), depth - 1), gen(rng, ("n", "n"), depth - 1))
    if depth <= 0 and a is not None:
        return a
    r = rng.random()
    if a is not None and r < 0.3:
        return a
    if r < 0.75 or a is None:
        mid = rng.choice(["n", "n", "m"] if sh != ("1", "1") else ["n"])
        return mul(gen(rng, (sh[0], mid), depth - 1), gen(rng, (mid, sh[1]), depth - 1))
    if r < 0.85:
        return add(gen(rng, sh, depth - 1), gen(rng, sh, depth - 1))
    if r < 0.93:
        return k(rng.choice([2, 3, Fraction(1, 2), -1, "a"]), gen(rng, sh, depth - 1))
    return T(gen(rng, (sh[1], sh[0]), depth - 1))


def subterms(e, path=()):
    yield path, e
    kind = e[0]
    if kind == "T":
        yield from subterms(e[1], path + (1,))
    elif kind in ("mul", "add"):
        for i, f in enumerate(e[1]):
            yield from subterms(f, path + (1, i))
    elif kind == "k":
        yield from subterms(e[2], path + (2,))
    elif kind in ("tr", "n2"):
        yield from subterms(e[1], path + (1,))
    elif kind == "ip":
        yield from subterms(e[1], path + (1,))
        yield from subterms(e[2], path + (2,))


def replace(e, path, new):
    if not path:
        return new
    if e[0] in ("mul", "add"):
        _, i = path[0], path[1]
        items = list(e[1])
        items[i] = replace(items[i], path[2:], new)
        return mul(*items) if e[0] == "mul" else add(*items)
    items = list(e)
    items[path[0]] = replace(items[path[0]], path[1:], new)
    return tuple(items)


def true_rewrites(e) -> list:
    """Equal forms of ``e`` at its root (each one a rule an author uses)."""
    kind, out = e[0], []
    if kind == "T":
        a = e[1]
        if a[0] == "mul":
            out.append(mul(*[T(f) for f in reversed(a[1])]))
        if a[0] == "T":
            out.append(a[1])
        if a[0] == "add":
            out.append(add(*[T(t) for t in a[1]]))
        if a[0] == "k":
            out.append(k(a[1], T(a[2])))
        if shape(a) == ("1", "1"):
            out.append(a)  # a scalar is its own transpose
    if kind == "mul":
        fs = e[1]
        for i, f in enumerate(fs):
            if f[0] == "add":
                out.append(add(*[mul(*fs[:i], t, *fs[i + 1:]) for t in f[1]]))
            if f[0] == "k":
                out.append(k(f[1], mul(*fs[:i], f[2], *fs[i + 1:])))
        if shape(e) == ("1", "1"):
            out.append(mul(*[T(f) for f in reversed(fs)]))
    if kind == "k" and e[2][0] == "mul":
        fs = e[2][1]
        out.append(mul(k(e[1], fs[0]), *fs[1:]))
    if kind == "k" and e[2][0] == "add":
        out.append(add(*[k(e[1], t) for t in e[2][1]]))
    if kind == "add" and len(e[1]) >= 2:
        out.append(add(*e[1][1:], e[1][0]))
    if kind == "tr":
        a = e[1]
        if a[0] == "mul":
            fs = a[1]
            out.append(("tr", mul(*fs[1:], fs[0])))
            out.append(("tr", mul(fs[-1], *fs[:-1])))
        if a[0] == "T":
            out.append(("tr", a[1]))
        if a[0] == "add":
            out.append(add(*[("tr", t) for t in a[1]]))
    if kind == "ip":
        out.append(("tr", mul(T(e[1]), e[2])))
        out.append(("ip", e[2], e[1]))
        if e[1][0] == "mul" and len(e[1][1]) >= 2:  # ⟨PQ, R⟩ = ⟨P, R Qᵀ⟩
            fs = e[1][1]
            out.append(("ip", mul(*fs[:-1]), mul(e[2], T(fs[-1]))))
    if kind == "n2":
        a = e[1]
        out.append(mul(T(a), a) if shape(a)[1] == "1" else ("ip", a, a))
    return [o for o in out if o != e]


def rewrite(rng: random.Random, e):
    """``e`` with one true rewrite applied at a random subterm (``e`` itself if none applies)."""
    options = [(p, r) for p, s in subterms(e) for r in true_rewrites(s)]
    if not options:
        return e
    p, r = rng.choice(options)
    return replace(e, p, r)


def mutations(e) -> list:
    """Plausible slips at the root of ``e`` (the evaluator decides later whether they are false)."""
    kind, out = e[0], []
    if kind == "T":
        out.append(e[1])  # dropped transpose
        if e[1][0] == "mul":
            out.append(mul(*[T(f) for f in e[1][1]]))  # (AB)ᵀ = AᵀBᵀ
    if kind == "s" and SHAPES[e[1]][0] == SHAPES[e[1]][1] != "1":
        out.append(T(e))  # added transpose
    if kind == "mul":
        fs = e[1]
        for i in range(len(fs) - 1):
            out.append(mul(*fs[:i], fs[i + 1], fs[i], *fs[i + 2:]))  # swapped factors
    if kind == "tr" and e[1][0] == "mul" and len(e[1][1]) >= 3:
        fs = e[1][1]
        out.append(("tr", mul(fs[0], fs[2], fs[1], *fs[3:])))  # a non-cyclic permutation
        out.append(("tr", mul(*reversed(fs))))
    if kind == "k" and e[1] != "a":
        out.append(k(e[1] + 1, e[2]))
        out.append(k(1 / e[1], e[2]))
        out.append(e[2])  # dropped coefficient
    if kind == "add":
        for i in range(len(e[1])):
            out.append(add(*e[1][:i], *e[1][i + 1:]))  # dropped term
    if kind == "ip":
        out.append(("ip", T(e[1]), e[2]) if shape(e[1])[0] == shape(e[1])[1] else e)
    return [o for o in out if o != e]


def mutate(rng: random.Random, e):
    """``e`` with one slip at a random subterm that keeps the entry well typed, or None."""
    sh = shape(e)
    options = []
    for p, s in subterms(e):
        for m in mutations(s):
            new = replace(e, p, m)
            if well_typed(new) and shape(new) == sh:
                options.append(new)
    return rng.choice(options) if options else None


# -- printing as authors write -------------------------------------------------------------------
class Printer:
    def __init__(self, rng: random.Random):
        self.rng = rng
        # `A^TB` (a letter right after ^T) is TeX for Aᵀ·B: every spelling is drawn everywhere
        self.tight_sup = True

    def tsup(self) -> str:
        return self.rng.choice(["^T", "^{T}", "^\\top", "^T"])

    def coef(self, c) -> str:
        if c == "a":
            return "a"
        c = abs(c)
        if c.denominator == 1:
            return str(c.numerator)
        return f"\\frac{{{c.numerator}}}{{{c.denominator}}}"

    def atom_text(self, e) -> str:
        if e[0] == "s":
            return e[1]
        if e[0] == "d":
            return f"\\Delta {e[1]}"
        return f"\\frac{{dL}}{{d{e[1]}}}"

    def p(self, e, ctx: str = "top") -> str:
        """``ctx``: top (whole side), term (summand), factor (inside a product), base (under ^T)."""
        kind = e[0]
        if kind in ("s", "d", "g"):
            t = self.atom_text(e)
            return f"({t})" if ctx == "base" and kind != "s" else t
        if kind == "T":
            a = e[1]
            if a[0] == "s":
                return a[1] + self.tsup()
            if a[0] == "T":
                inner = "(" + self.p(a, "top") + ")"
            elif a[0] == "mul" and self.rng.random() < 0.15:
                inner = "{" + self.p(a, "top") + "}"
            else:
                inner = self.p(a, "base")
            return inner + self.tsup()
        if kind == "mul":
            parts = [self.p(f, "factor") for f in e[1]]
            text = parts[0]
            for prev, f, part in zip(e[1], e[1][1:], parts[1:]):
                glue = "" if (prev[0] in ("s", "T") and f[0] in ("s", "T") and part[0].isalpha()
                              and not text.endswith("\\top")
                              and (prev[0] != "T" or self.tight_sup and self.rng.random() < 0.5)
                              and self.rng.random() < 0.5) else " "
                text += glue + part
            return f"({text})" if ctx == "base" else text
        if kind == "add":
            text = self.term(e[1][0], first=True)
            for t in e[1][1:]:
                text += self.term(t, first=False)
            return text if ctx in ("top",) else f"({text})" if ctx != "term" else f"({text})"
        if kind == "k":
            if e[1] != "a" and e[1] < 0:
                text = "-" + self.scaled(k(-e[1], e[2]), ctx)
                return text if ctx == "top" else f"({text})"
            return self.scaled(e, ctx)
        if kind == "tr":
            a = e[1]
            bare = (ctx in ("top", "term") and a[0] == "mul"
                    and all(f[0] == "s" or (f[0] == "T" and f[1][0] == "s") for f in a[1]))
            op = self.rng.choice(["\\mathrm{tr}", "\\operatorname{tr}", "trace"] if not bare else
                                 ["\\mathrm{tr}", "\\operatorname{tr}"])
            if bare and self.rng.random() < 0.5:
                return op + " " + self.p(a, "top")
            return f"{op}({self.p(a, 'top')})"
        if kind == "ip":
            return f"\\langle {self.p(e[1], 'top')}, {self.p(e[2], 'top')} \\rangle"
        if kind == "n2":
            a = e[1]
            sub = "_F" if shape(a)[1] != "1" and self.rng.random() < 0.5 else ""
            return f"\\|{self.p(a, 'top')}\\|{sub}^2"
        raise AssertionError(e)

    def scaled(self, e, ctx: str) -> str:
        c, a = e[1], e[2]
        body = self.p(a, "factor") if a[0] not in ("k", "add") else "(" + self.p(a, "top") + ")"
        if a[0] == "tr" and ctx in ("top", "term") and body.startswith("("):
            body = self.p(a, "term")
        text = body if c == 1 else self.coef(c) + " " + body
        return text if ctx in ("top", "term") else f"({text})"

    def term(self, t, first: bool) -> str:
        if t[0] == "k" and t[1] != "a" and t[1] < 0:
            body = self.scaled(k(-t[1], t[2]), "term") if t[1] != -1 else self.p(t[2], "term")
            return ("-" if first else " - ") + body
        return ("" if first else " + ") + self.p(t, "term")


# -- documents -----------------------------------------------------------------------------------
@dataclass
class Chain:
    """One chain ``E0 = E1 = ...``; ``lines`` splits the entries into display lines (the first line
    holds E0); ``fixed`` leading entries are definitions and never mutated."""

    entries: list
    lines: list  # number of entries on each display line
    first_order: bool = False
    fixed: int = 1
    readoff: object = None  # ('grad', wrt, out, expr): ⇒ dL/dwrt = expr
    mutated: int | None = None  # index of the mutated entry (len(entries) for the read-off)
    line_numbers: list = field(default_factory=list)


TEMPLATES = {
    # forward (output, expr), the variable, its perturbation, output gradient symbol
    "linear-x": ("y", mul(S("W"), S("x")), "x"),
    "linear-W": ("y", mul(S("W"), S("x")), "W"),
    "square-A": ("z", mul(S("A"), S("x")), "A"),
    "quadratic-x": ("q", mul(T(S("x")), S("A"), S("x")), "x"),
}


def subst(e, name: str, new):
    if e[0] == "s":
        return new if e[1] == name else e
    if e[0] in ("mul", "add"):
        items = [subst(f, name, new) for f in e[1]]
        return mul(*items) if e[0] == "mul" else add(*items)
    if e[0] in ("d", "g"):
        return e
    if e[0] == "k":
        return ("k", e[1], subst(e[2], name, new))
    return (e[0],) + tuple(subst(f, name, new) for f in e[1:])


def derivation_chains(rng: random.Random, template: str) -> tuple[list, str]:
    out, f, w = TEMPLATES[template]
    g, dw, dout = ("g", out), ("d", w), ("d", out)
    perturbed = subst(f, w, add(S(w), dw))
    if template == "quadratic-x":  # q scalar: read off dq/dx directly, as the course does
        e2 = add(mul(T(S("x")), S("A"), dw), mul(T(dw), S("A"), S("x")), mul(T(dw), S("A"), dw))
        c = Chain([dout, add(perturbed, k(-1, f)), e2,
                   add(mul(T(S("x")), S("A"), dw), mul(T(S("x")), T(S("A")), dw)),
                   ("ip", mul(add(S("A"), T(S("A"))), S("x")), dw)], [2, 1, 1, 1], first_order=True)
        c.readoff = ("dq", w, mul(add(S("A"), T(S("A"))), S("x")))
        return [c], out
    lin = mul(dw, S("x")) if w != "x" else mul(S("W"), dw)
    c1 = Chain([dout, add(perturbed, k(-1, f)), lin], [3], first_order=True)
    if w == "x":
        tail = [("ip", g, lin), ("ip", mul(T(S("W")), g), dw)]
        grad = mul(T(S("W")), g)
    else:
        tail = [("ip", g, lin), ("tr", mul(T(g), dw, S("x"))), ("tr", mul(S("x"), T(g), dw)),
                ("ip", mul(g, T(S("x"))), dw)]
        grad = mul(g, T(S("x")))
    entries = [("dL",), ("ip", g, dout)] + tail
    c2 = Chain(entries, [len(entries)], first_order=True, fixed=2)
    c2.readoff = ("dL", w, grad)
    return [c1, c2], out


def claim_chain(rng: random.Random) -> Chain:
    sh = rng.choice([("n", "n"), ("n", "n"), ("1", "1"), ("1", "1"), ("m", "n"), ("n", "1")])
    e = gen(rng, sh, rng.randint(1, 3))
    if sh == ("n", "n") and rng.random() < 0.3:
        e = T(e)
    if sh == ("1", "1") and rng.random() < 0.2:
        e = ("n2", rng.choice([S("x"), S("A"), mul(S("A"), S("x")), S("W")]))
    entries = [e]
    for _ in range(rng.randint(1, 3)):
        nxt = rewrite(rng, rewrite(rng, entries[-1]))
        if nxt == entries[-1]:
            nxt = rewrite(rng, T(T(nxt)) if shape(nxt)[0] != "1" else nxt)
        entries.append(nxt)
    lines = [len(entries)]
    if len(entries) >= 3 and rng.random() < 0.5:  # the last entry on a "= ..." continuation line
        lines = [len(entries) - 1, 1]
    return Chain(entries, lines)


@dataclass
class Doc:
    text: str
    chains: list
    env_shapes: dict


DECL = ("Let $A \\in \\mathbf{R}^{n \\times n}$, $B \\in \\mathbf{R}^{n \\times n}$, "
        "$C \\in \\mathbf{R}^{n \\times n}$, $W \\in \\mathbf{R}^{m \\times n}$, $x \\in \\mathbf{R}^n$, "
        "$v \\in \\mathbf{R}^m$ and the scalar $a \\in \\mathbf{R}$.")
OUT_DECL = {"y": "$y \\in \\mathbf{R}^m$", "z": "$z \\in \\mathbf{R}^n$", "q": "$q \\in \\mathbf{R}$"}


def render_chain(pr: Printer, c: Chain, lines: list, out: str | None) -> None:
    pos = 0
    for n_on_line in c.lines:
        parts = []
        for e in c.entries[pos:pos + n_on_line]:
            parts.append(pr.p(e) if e != ("dL",) else "\\Delta L")
        text = " = ".join(parts) if pos == 0 else "= " + " = ".join(parts)
        c.line_numbers.append(len(lines) + 1)
        lines += [f"$${text}$$", ""]
        pos += n_on_line
    if c.readoff is not None:
        kind, w, g = c.readoff
        lhs = f"\\frac{{d{'L' if kind == 'dL' else 'q'}}}{{d{w}}}"
        c.line_numbers.append(len(lines) + 1)
        lines += [f"$$\\Rightarrow {lhs} = {pr.p(g)}$$", ""]


def build(seed: int, n_claims: int, template: str, mutate_doc: bool) -> Doc:
    rng = random.Random(seed)
    claims = [claim_chain(rng) for _ in range(n_claims)]
    deriv, out = derivation_chains(rng, template)
    for c in deriv:  # a random extra true step at the end of each derivation chain
        if rng.random() < 0.5 and c.fixed < len(c.entries):
            nxt = rewrite(rng, c.entries[-1])
            if nxt != c.entries[-1]:
                c.entries.append(nxt)
                c.lines[-1] += 1
    chains = claims + deriv
    if mutate_doc:
        spots = [(c, i) for c in chains for i in range(c.fixed, len(c.entries))]
        spots += [(c, len(c.entries)) for c in deriv if c.readoff is not None]
        rng.shuffle(spots)
        for c, i in spots:
            old = c.entries[i] if i < len(c.entries) else c.readoff[2]
            if i == len(c.entries) and rng.random() < 0.5 and shape(old)[0] == shape(old)[1]:
                new = T(old)  # a transposed gradient
            else:
                new = mutate(rng, old)
            if new is None or new == old:
                continue
            if i < len(c.entries):
                c.entries[i] = new
            else:
                c.readoff = c.readoff[:2] + (new,)
            c.mutated = i
            break
    pr = Printer(rng)
    lines = [f"# Random derivations {seed}", "", DECL, ""]
    for c in claims:
        render_chain(pr, c, lines, None)
    lines += [f"## The {template} layer", "", f"Here {OUT_DECL[out]} and $L \\in \\mathbf{{R}}$.", ""]
    f = TEMPLATES[template][1]
    lines += [f"$${out} = {pr.p(f)}$$", ""]
    for c in deriv:
        render_chain(pr, c, lines, out)
    return Doc("\n".join(lines) + "\n", chains, {})


# -- judging entries with the evaluator ----------------------------------------------------------
def envs(seed: int, template: str):
    """Environments (name → value) at several sizes; Δ values come scaled by t ∈ {0, 1, 2, 3}."""
    out_name, f, w = TEMPLATES[template]
    rng = random.Random(seed ^ 0x5EED)
    for sizes in SIZES:
        dims = dict(sizes, **{"1": 1})
        for _ in range(2):
            base = {name: rand_matrix(rng, dims[r], dims[c]) for name, (r, c) in SHAPES.items()}
            base["g" + out_name] = rand_matrix(rng, dims[SHAPES[out_name][0]], 1)
            direction = rand_matrix(rng, dims[SHAPES[w][0]], dims[SHAPES[w][1]])
            yield base, direction


def at(base: dict, direction, template: str, t: int) -> dict:
    out_name, f, w = TEMPLATES[template]
    env = dict(base)
    env["Δ" + w] = direction * t
    y0 = value(f, env)
    env[out_name] = y0
    moved = dict(env, **{w: env[w] + env["Δ" + w]})
    env["Δ" + out_name] = value(f, moved) - y0
    env["dL"] = value(("ip", ("g", out_name), ("d", out_name)), env)
    return env


def first_order(fn) -> tuple:
    """(p(0), p'(0)) of a polynomial p of degree ≤ 3 in t, from p(0..3) (exact Lagrange)."""
    v = [fn(t) for t in range(4)]
    return v[0], (-11 * v[0] + 18 * v[1] - 9 * v[2] + 2 * v[3]) / 6


def equal(a, b, seed: int, template: str, first: bool) -> bool:
    """``a = b`` at every environment tried (to first order in the Δ when ``first``)."""
    if not (well_typed(a) and well_typed(b)) or shape(a) != shape(b):
        return False
    for base, direction in envs(seed, template):
        if first:
            pa = first_order(lambda t: value(a, at(base, direction, template, t)))
            pb = first_order(lambda t: value(b, at(base, direction, template, t)))
            if any((x != y).any() for x, y in zip(pa, pb)):
                return False
        elif (value(a, at(base, direction, template, 1)) != value(b, at(base, direction, template, 1))).any():
            return False
    return True


def true_gradient(w: str, kind: str, base: dict, template: str) -> np.ndarray:
    """∂L/∂w (or ∂q/∂w) entry by entry, by exact central differences of a polynomial of degree ≤ 2."""
    out_name, f, _ = TEMPLATES[template]
    loss = (lambda env: value(("ip", ("g", out_name), f), env)[0, 0]) if kind == "dL" else \
        (lambda env: value(f, env)[0, 0])
    grad = np.empty(base[w].shape, dtype=object)
    for idx in np.ndindex(*base[w].shape):
        e = np.zeros(base[w].shape, dtype=object) + Fraction(0)
        e[idx] = Fraction(1)
        grad[idx] = (loss(dict(base, **{w: base[w] + e})) - loss(dict(base, **{w: base[w] - e}))) / 2
    return grad


def readoff_true(c: Chain, seed: int, template: str) -> bool:
    kind, w, g = c.readoff
    if not well_typed(g) or shape(g) != SHAPES[w]:
        return False
    return all((value(g, at(base, d, template, 1)) == true_gradient(w, kind, base, template)).all()
               for base, d in envs(seed, template))


@dataclass
class Judged:
    line: int
    false_prev: bool  # false against the entry before it
    false_first: bool  # false against the chain's first entry
    chain: Chain
    strict: bool = False  # a read-off: verified only if false_first is False


def judge(doc: Doc, seed: int, template: str) -> list[list[Judged]]:
    """For each chain, one record per step the checker should report, in order."""
    out = []
    for c in doc.chains:
        recs, pos = [], 0
        eq = lambda a, b: equal(a, b, seed, template, c.first_order)  # noqa: E731
        for ln, n_on in zip(c.line_numbers, c.lines):
            for i in range(pos, pos + n_on):
                if i == 0:
                    continue
                recs.append(Judged(ln, not eq(c.entries[i], c.entries[i - 1]), not eq(c.entries[i], c.entries[0]), c))
            pos += n_on
        if c.readoff is not None:
            # the read-off is checked against the chain's last line (⟨G, Δw⟩ = last, to first order)
            # and against the true gradient; it may verify only when G is the true gradient
            kind, w, g = c.readoff
            bad = not readoff_true(c, seed, template)
            recs.append(Judged(c.line_numbers[-1], not eq(("ip", g, ("d", w)), c.entries[-1]), bad, c, strict=True))
        out.append(recs)
    return out


def steps_by_line(checked) -> dict:
    got: dict = {}
    for d in list(checked.derivations) + list(checked.claims):
        for s in d.steps:
            got.setdefault(s.line, []).append(s)
    return got


def counterexample_separates(s, c: Chain, rec_index: int) -> bool | None:
    """For a claim step with a counterexample over A, B, C, W, x, v, a: do the two sides differ
    there under this evaluator? None when the counterexample cannot be mapped."""
    cx = s.verdict.counterexample if s.verdict else None
    if cx is None or not cx.values or c.first_order:
        return None
    sizes = dict(cx.sizes)
    env = {}
    for name, (r, col) in SHAPES.items():
        if name in cx.values:
            env[name] = np.array([[Fraction(t) for t in row] for row in cx.values[name]], dtype=object)
            if env[name].ndim != 2:
                return None
    i = rec_index + 1
    a, b = c.entries[i - 1], c.entries[i]
    try:
        va, vb = value(a, env), value(b, env)
    except (KeyError, ValueError):
        return None
    del sizes
    return bool((va != vb).any()) or bool((value(b, env) != value(c.entries[0], env)).any())


def check_document(seed: int, n_claims: int, template: str, mutate_doc: bool) -> tuple:
    doc = build(seed, n_claims, template, mutate_doc)
    judged = judge(doc, seed, template)
    checked = check_text(doc.text, "random.md")
    got = steps_by_line(checked)
    context = "\n--- document ---\n" + doc.text
    for chain_recs in judged:
        per_line: dict = {}
        for r in chain_recs:
            per_line.setdefault(r.line, []).append(r)
        chain_steps, refused = [], False
        for line, recs in per_line.items():
            steps = got.get(line, [])
            if len(steps) == 1 and steps[0].kind == "problem":
                # the whole line was refused: never verified, and a true line is never refused
                s = steps[0]
                assert s.status != "verified", context
                if all(not (r.false_prev or r.false_first) for r in recs):
                    assert s.status == "undecided", f"line {line}: a true line refused: {s.verdict.reason}" + context
                refused = True
                continue
            # every equation written is a step: none skipped, none invented
            assert len(steps) == len(recs), f"line {line}: {len(recs)} equations, {len(steps)} steps" + context
            chain_steps += list(zip(recs, steps))
        for j, (r, s) in enumerate(chain_steps):
            false = r.false_first if r.strict else r.false_prev and r.false_first
            # (1) soundness: an entry false against both its predecessor and the first entry never verifies
            assert not (false and s.status == "verified"), f"line {r.line}: a false step verified" + context
            # (2) a failed step is false against its predecessor or the first entry
            if s.status == "failed":
                assert r.false_prev or r.false_first, \
                    f"line {r.line}: a true step failed: {s.verdict.reason}" + context
                if r.chain.readoff is None or j < len(chain_steps) - 1:
                    sep = counterexample_separates(s, r.chain, j)
                    assert sep is not False, f"line {r.line}: the counterexample does not separate the sides" + context
        if any(r.false_first or r.false_prev for r in chain_recs) and not refused:
            # by transitivity a chain with a false entry cannot verify in every step
            assert not all(s.status == "verified" for _, s in chain_steps), "a false chain verified" + context
        if not mutate_doc or doc.chains[judged.index(chain_recs)].mutated is None:
            # (3) a true chain verifies entirely
            for r, s in chain_steps:
                assert not (r.false_prev or r.false_first), f"line {r.line}: the evaluator disagrees" + context
                assert s.status == "verified", \
                    f"line {r.line}: a true step is {s.status}: {s.verdict.reason if s.verdict else ''}" + context
    return doc, checked


DOCS = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@DOCS
@given(seed=st.integers(0, 2**32 - 1), n_claims=st.integers(1, 3),
       template=st.sampled_from(sorted(TEMPLATES)), mutate_doc=st.booleans())
def test_random_documents_agree_with_an_independent_evaluation(seed, n_claims, template, mutate_doc):
    check_document(seed, n_claims, template, mutate_doc)


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), template=st.sampled_from(sorted(TEMPLATES)), mutate_doc=st.booleans())
def test_json_output_agrees_with_the_python_result(seed, template, mutate_doc):
    doc, checked = check_document(seed, 2, template, mutate_doc)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "doc.md")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(doc.text)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["check", path, "--format", "json"])
    data = json.loads(out.getvalue())
    (f,) = data["files"]
    assert f["status"] == checked.status
    assert code == (0 if checked.status == "verified" else 1)
    want = sorted((s.line, s.status) for d in list(checked.derivations) + list(checked.claims) for s in d.steps)
    have = sorted((s["line"], s["status"]) for d in f["derivations"] + f["claims"] for s in d["steps"])
    assert have == want


def test_a_continuation_after_a_refused_line_never_verifies_against_an_earlier_chain():
    """tests/data/hunt/diff-3.md and diff-4.md: ``$$= A$$`` after a refused line ((BA)ᵀ = Aᵀ Z, Z a typo)
    continues the author's refused chain, whose first side (BA)ᵀ is not A: it must not verify. Today it is
    attached to the display before (``$$A = A$$``) and printed ✓ — a wrong ✓ found by the differential
    test above."""
    head = "# T\n\nLet $A \\in \\mathbf{R}^{n \\times n}$, $B \\in \\mathbf{R}^{n \\times n}$.\n\n$$A = A$$\n\n"
    for refused in ["$$(BA)^T = A^T Z$$", "$$(BA)^T = A^TB^T$$"]:
        checked = check_text(head + refused + "\n\n$$= A$$\n")
        wrong = [s for s in steps_by_line(checked).get(9, []) if s.status == "verified"]
        assert not wrong, f"after {refused}: '= A' verified ({wrong[0].plain()})"


def test_a_continuation_in_a_derivation_after_a_refused_line_is_not_verified():
    """tests/data/hunt/diff-5.md: inside a Δ-derivation, ``= ⟨Wᵀ dL/dy, Δx⟩`` continues the refused line
    ``= ⟨AᵀWᵀ dL/dy, Δx⟩`` (false as a step); it is compared with the line before the refused one and
    printed ✓ (it must stay failed as a step; the typo diagnosis only annotates it)."""
    text = (
        "# Linear\n\nLet $x \\in \\mathbf{R}^n$, $W \\in \\mathbf{R}^{m \\times n}$, $A \\in \\mathbf{R}^{n \\times n}$, "
        "$y \\in \\mathbf{R}^m$ and $L \\in \\mathbf{R}$.\n\n$$y = Wx$$\n\n"
        "$$\\Delta y = W(x + \\Delta x) - Wx = W \\Delta x$$\n\n"
        "$$\\Delta L = \\langle \\frac{dL}{dy}, \\Delta y \\rangle = \\langle \\frac{dL}{dy}, W \\Delta x \\rangle$$\n\n"
        "$$= \\langle A^TW^T \\frac{dL}{dy}, \\Delta x \\rangle$$\n\n"
        "$$= \\langle W^T \\frac{dL}{dy}, \\Delta x \\rangle$$\n\n"
        "$$\\Rightarrow \\frac{dL}{dx} = W^T \\frac{dL}{dy}$$\n")
    checked = check_text(text)
    wrong = [s for s in steps_by_line(checked).get(13, []) if s.status == "verified"]
    assert not wrong, f"line 13 verified against an earlier line: {wrong[0].plain()}"
