"""Symbols and shapes.

A symbol is a matrix of *symbolic* shape: ``x`` in R^n is an n x 1 column, ``w`` in
R^{m x n} an m x n matrix, a scalar is 1 x 1. Dimensions are SymPy symbols (each ranging
over all positive integers, independently of one another) or positive integers.

Two families of derived symbols carry the differential method:

* the perturbation ``Δx`` of ``x`` (same shape, rendered ``\\Delta x``);
* the gradient symbol ``dL/dy`` (shape of ``y``, rendered ``\\frac{dL}{dy}``).

The user-facing constructors return SymPy ``MatrixSymbol`` objects, so expressions can be
built with SymPy's own ``*``, ``+``, ``.T`` and ``Trace``; :func:`symderiv.operators.as_expr`
converts them into symderiv's own tree, which keeps what was written and checks shapes strictly.
"""
from __future__ import annotations

import re
from typing import Any, TypeAlias

import sympy

from symderiv.errors import NameError_, ShapeError
from symderiv.lang.greek import ACCENT_NAME, GREEK_NAMES, UNICODE_GREEK

# SymPy has no type information, so these aliases are Any to mypy; they document intent.
Dim: TypeAlias = Any
DimLike: TypeAlias = Any

# A name is a letter (Latin or Greek, or a Greek name such as "alpha") followed by letters,
# digits, "_" , "*" or "'". Anything else is refused so that names can go into LaTeX,
# Markdown and file names without escaping surprises.
_NAME_RE = re.compile(r"^[A-Za-z\u0391-\u03A9\u03B1-\u03C9][A-Za-z0-9_*']*$")

GREEK = list(GREEK_NAMES)
_GREEK_UNICODE = UNICODE_GREEK


def as_dim(d: DimLike) -> Dim:
    """Return a dimension: a positive SymPy Integer or a SymPy Symbol (from a str or int)."""
    if isinstance(d, bool):
        raise ShapeError(f"dimension must be a positive integer or a symbol, got {d!r}")
    if isinstance(d, int):
        if d < 1:
            raise ShapeError(f"dimension must be a positive integer, got {d}")
        return sympy.Integer(d)
    if isinstance(d, str) and d not in ("oo", "∞", "inf"):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", d):
            raise ShapeError(f"dimension name {d!r} is not a plain identifier")
        return sympy.Symbol(d)
    if isinstance(d, sympy.Integer):
        if d < 1:
            raise ShapeError(f"dimension must be a positive integer, got {d}")
        return d
    if d is sympy.oo or (isinstance(d, str) and d in ("oo", "∞", "inf")):
        return sympy.oo  # a sequence indexed by all of ℤ, with finite support
    if isinstance(d, sympy.Symbol):
        # Symbols are compared by name only: n (plain) and n (positive=True) are one dimension.
        return sympy.Symbol(d.name)
    if isinstance(d, sympy.Expr) and is_linear_dim(d):
        # lengths of finite correlation/convolution outputs, e.g. n - k + 1; only the
        # sequence procedure accepts these (index-graph types must be independent symbols)
        return sympy.expand(d)
    raise ShapeError(
        f"dimension must be a positive integer, a symbol such as n, or an integer-linear "
        f"length such as n - k + 1, got {d!r}"
    )


def is_linear_dim(d: Any) -> bool:
    """An integer-linear expression in symbols (floor((k-1)/2) allowed), as finite lengths are."""
    try:
        d = sympy.expand(sympy.sympify(d))
    except (sympy.SympifyError, TypeError):
        return False
    if not isinstance(d, sympy.Expr) or not d.free_symbols:
        return False
    for term in sympy.Add.make_args(d):
        coef, rest = term.as_coeff_Mul()
        if not coef.is_Integer and not (coef.is_Rational and rest == 1):
            return False
        if rest != 1 and not (rest.is_Symbol or isinstance(rest, sympy.floor)):
            return False
    return True


def is_plain_dim(d: Any) -> bool:
    """A dimension the matrix verifier can use as an independent index type."""
    return isinstance(d, (sympy.Symbol, sympy.Integer))


def dim_name(d: Dim) -> str:
    return str(d)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise NameError_(
            f"symbol name {name!r} is not allowed: use a letter followed by letters, "
            "digits, '_', '*' or \"'\""
        )
    return name


def delta_name(base: str) -> str:
    return "Δ" + base


def grad_name(loss: str, wrt: str) -> str:
    return f"d{loss}/d{wrt}"


def name_latex(name: str, kind: str = "plain") -> str:
    """LaTeX for a symbol name: ``y*`` -> ``y^{*}``, ``y_m`` -> ``y_{m}``, ``alpha`` -> ``\\alpha``,
    ``Δx`` -> ``\\Delta x``, ``dL/dy`` -> ``\\frac{dL}{dy}``."""
    if kind == "delta":
        return r"\Delta " + name_latex(name[1:])
    if kind == "grad":
        loss, wrt = name[1:].split("/d", 1)
        return r"\frac{d" + name_latex(loss) + "}{d" + name_latex(wrt) + "}"
    accent = ACCENT_NAME.fullmatch(name)
    if accent:
        # y__hat -> \\hat{y}, L__cal_1 -> \\mathcal{L}_{1}: the reader's names of decorated letters
        command = "mathcal" if accent.group(2) == "cal" else accent.group(2)
        rest = name_latex("Z" + accent.group(3))[1:]
        return f"\\{command}{{{name_latex(accent.group(1))}}}" + rest
    primes = ""
    while name.endswith("'"):
        primes += "'"
        name = name[:-1]
    star = ""
    if name.endswith("*"):
        star = "^{*}"
        name = name.rstrip("*")
    sub = ""
    if "_" in name:
        name, sub = name.split("_", 1)
        sub = "_{" + sub.replace("_", r"\_") + "}"
    else:
        m = re.fullmatch(r"([A-Za-z\u0391-\u03A9\u03B1-\u03C9]+)([0-9]+)", name)
        if m:
            name, sub = m.group(1), "_{" + m.group(2) + "}"
    if name in _GREEK_UNICODE:
        name = _GREEK_UNICODE[name]
    if name in GREEK:
        body = "\\" + name + " "
        body = body.rstrip()
    elif len(name) == 1:
        body = name
    else:
        body = r"\mathrm{" + name + "}"
    return body + sub + star + primes


def _matrix_symbol(name: str, rows: DimLike, cols: DimLike) -> sympy.MatrixSymbol:
    r, c = as_dim(rows), as_dim(cols)
    if c != 1 and not (is_plain_dim(r) and is_plain_dim(c)):
        # same rule as symderiv.operators: linear lengths (n + 1) only for column vectors
        raise ShapeError(
            f"{name} has shape {r}×{c}: a length such as n + 1 is allowed only for column vectors "
            f"(sequences); a matrix or row vector needs dimensions that are symbols or integers"
        )
    return sympy.MatrixSymbol(name, r, c)


def scalar(name: str) -> sympy.MatrixSymbol:
    """A scalar, represented as a 1 x 1 matrix symbol."""
    return _matrix_symbol(check_name(name), 1, 1)


def vector(name: str, n: DimLike) -> sympy.MatrixSymbol:
    """A column vector x in R^n (an n x 1 matrix symbol)."""
    return _matrix_symbol(check_name(name), n, 1)


def matrix(name: str, rows: DimLike, cols: DimLike) -> sympy.MatrixSymbol:
    """A matrix w in R^{rows x cols}."""
    return _matrix_symbol(check_name(name), rows, cols)


def delta(x: sympy.MatrixSymbol) -> sympy.MatrixSymbol:
    """The perturbation Δx of a symbol, of the same shape."""
    name = x.name if isinstance(x, sympy.MatrixSymbol) else getattr(x, "name", None)
    if name is None:
        raise NameError_("delta() takes a symbol made by scalar(), vector() or matrix()")
    return sympy.MatrixSymbol(delta_name(check_name(name)), x.shape[0], x.shape[1])


def gradient_symbol(y: sympy.MatrixSymbol, loss: str = "L") -> sympy.MatrixSymbol:
    """The symbol dL/dy: the gradient of the scalar loss with respect to y, shaped like y."""
    check_name(loss)
    return sympy.MatrixSymbol(grad_name(loss, check_name(y.name)), y.shape[0], y.shape[1])


def classify_name(name: str) -> tuple[str, str]:
    """Return (kind, checked name) for a MatrixSymbol name: plain, delta or grad."""
    if name.startswith("Δ"):
        check_name(name[1:])
        return "delta", name
    m = re.fullmatch(r"d([^/]+)/d(.+)", name)
    if m:
        check_name(m.group(1))
        check_name(m.group(2))
        return "grad", name
    return "plain", check_name(name)
