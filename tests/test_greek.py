"""One Greek-letter table (symderiv.lang.greek) used by the printers, report escaping and names."""
from __future__ import annotations

from pathlib import Path

import pytest

from symderiv.documents.documents import check_text
from symderiv.lang.greek import GREEK, GREEK_NAMES, UNICODE_GREEK, greek_latex, greek_text
from symderiv.lang.operators import Sym
from symderiv.lang.printing import latex, plain
from symderiv.lang.symbols import name_latex
from symderiv.report.render import md_escape, render_document, tex_escape

DOC = r"""# Linear layer: dℓ/dφ

The loss ℓ (written $\ell$ in math) depends on $\varphi$ through $y$.

Let $\varphi \in \mathbf{R}^n$, $W \in \mathbf{R}^{m \times n}$, $y \in \mathbf{R}^m$ and $L \in \mathbf{R}$.

$$y = W\varphi$$

$$\Delta y = W(\varphi + \Delta \varphi) - W\varphi = W \Delta \varphi$$
"""


@pytest.mark.parametrize("name", GREEK_NAMES)
def test_every_letter_prints_the_same_in_latex_and_plain(name):
    s = Sym(name, 1, 1)
    assert latex(s) == "\\" + name
    assert plain(s) == GREEK[name]
    assert greek_latex(GREEK[name]) == "\\" + UNICODE_GREEK[GREEK[name]]


def test_varphi_and_ell():
    assert name_latex("varphi") == r"\varphi"  # was \mathrm{varphi}
    assert name_latex("ell_1") == r"\ell_{1}"
    assert greek_text("varphi_2") == "φ_2"
    assert greek_text("ell") == "ℓ"
    assert greek_text("element") == "element"  # the whole leading word, not a prefix
    assert plain(Sym("dL/dvarphi", 1, 1, kind="grad")) == "dL/dφ"


def test_tex_escape_writes_greek_as_math():
    assert tex_escape("dℓ/dx") == r"d$\ell$/dx"  # was d\texttt{U+2113}/dx
    assert tex_escape("L(θ + Δθ)") == r"L($\theta$ + $\Delta \theta$)"  # adjacent formulas joined
    assert "texttt" not in tex_escape("".join(UNICODE_GREEK))
    assert md_escape("ℓ") == "ℓ"


def _doc(tmp_path: Path):
    p = tmp_path / "greek.md"
    p.write_text(DOC, encoding="utf-8")
    return check_text(DOC, path=str(p))


def test_tex_report_keeps_ell_and_varphi(tmp_path):
    out = render_document(_doc(tmp_path), "tex")
    assert r"\section*{Linear layer: d$\ell$/d$\phi$}" in out
    assert r"The loss $\ell$ (written $\ell$ in math) depends on $\varphi$" in out
    assert r"W \Delta \varphi" in out
    assert "texttt{U+" not in out and r"\mathrm{varphi}" not in out and r"\texttt{\textbackslash{}ell" not in out


def test_md_report_keeps_ell_and_varphi(tmp_path):
    out = render_document(_doc(tmp_path), "md")
    assert "# Linear layer: dℓ/dφ" in out
    assert r"The loss ℓ (written $\ell$ in math) depends on $\varphi$" in out
    assert r"W \Delta \varphi" in out
    assert r"\mathrm{varphi}" not in out


def test_pattern_matches_every_symbol_name_and_no_operator():
    import re

    from symderiv.lang.greek import GREEK_OPERATORS, GREEK_SYMBOL_NAMES, GREEK_TEX_PATTERN

    for name in GREEK_SYMBOL_NAMES:
        assert re.fullmatch(GREEK_TEX_PATTERN, "\\" + name)
    for name in GREEK_OPERATORS:
        assert not re.fullmatch(GREEK_TEX_PATTERN, "\\" + name)
    assert not re.match(GREEK_TEX_PATTERN, r"\phix")


def test_reader_grammar_uses_the_greek_table():
    """The grammar's GREEK terminal names exactly the letters of symderiv.lang.greek (a new letter is
    added in one place: the table, then this line of the grammar)."""
    import re
    from importlib import resources

    grammar = resources.files("symderiv.documents").joinpath("grammar/math.lark").read_text(encoding="utf-8")
    m = re.search(r"^GREEK: /\\\\\(([^)]*)\)", grammar, re.M)
    assert m is not None
    from symderiv.lang.greek import GREEK_SYMBOL_NAMES

    assert set(m.group(1).split("|")) == set(GREEK_SYMBOL_NAMES)
