"""docs/notation.md is true: every accepted spelling reads as the gallery says, every refused one
gets its message, and the file is generated from tests/notation_gallery.py.

Run ``python tests/test_notation.py`` to rewrite docs/notation.md after changing the gallery."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notation_gallery import ACCEPTED, DECLARATIONS, OPERATORS, REFUSED  # noqa: E402

from symderiv.documents.interpret import Interpreter, Scope  # noqa: E402
from symderiv.documents.reader import MathLine, read_math  # noqa: E402
from symderiv.errors import SymderivError  # noqa: E402
from symderiv.lang.greek import greek_text  # noqa: E402
from symderiv.lang.operators import Sym  # noqa: E402
from symderiv.lang.printing import plain  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "notation.md"


def _read(tex: str):
    scope = Scope()
    for name, r, c in DECLARATIONS:
        scope.define(name, Sym(name, r, c), 0)
    scope.operators.update(OPERATORS)
    ml = MathLine(tex, 1, 1)
    return Interpreter(scope, ml, "gallery").expr(read_math(ml, "gallery").items[0])


@pytest.mark.parametrize("topic,tex,meaning", ACCEPTED, ids=[a[1] for a in ACCEPTED])
def test_accepted_spelling_reads_as_documented(topic, tex, meaning):
    assert plain(_read(tex)) == meaning


@pytest.mark.parametrize("tex,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_spelling_gets_its_message(tex, message):
    with pytest.raises(SymderivError) as exc:
        _read(tex)
    assert message in str(exc.value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe ends a table cell, even inside code (GFM)


def render() -> str:
    decl = ", ".join(f"{greek_text(n)} ∈ R^{{{r}×{c}}}" if c != 1 else
                     (f"{greek_text(n)} ∈ R^{r}" if r != 1 else f"{greek_text(n)} ∈ R") for n, r, c in DECLARATIONS)
    lines = ["# Notation gallery", "",
             "Generated from `tests/notation_gallery.py` by `python tests/test_notation.py`; "
             "`tests/test_notation.py` checks every row against the reader.", "",
             f"Every row is read with {decl} declared and `<!-- symderiv: \\circ = hadamard -->`. "
             "The meaning is shown in symderiv's plain notation (· product, ᵀ as ^T, ∘ entrywise product, "
             "recip(s) = 1/s, 1_n the ones vector).", ""]
    topic = None
    for t, tex, meaning in ACCEPTED:
        if t != topic:
            lines += ["", f"## {t[0].upper() + t[1:]}", "", "| written | read as |", "|---|---|"]
            topic = t
        lines.append(f"| `{_cell(tex)}` | {_cell(meaning)} |")
    lines += ["", "## Differentials", "",
              "A differential `dx` (d not a declared symbol) or `\\mathrm{d}x` is read as the perturbation `\\Delta x`, "
              "and a line written with differentials states equality to first order: `dL = (x - t)^T dx` is checked "
              "as `\\Delta L \\approx (x - t)^T \\Delta x`. Each side must be linear in the differentials (`dx^T dx` is "
              "refused), and d applies to one name (`dWx` is refused: write `dW\\, x` or `\\mathrm{d}W x`)."]
    lines += ["", "## Perturbation sign", "",
              "`<!-- symderiv: \\delta = perturbation -->` in a document makes `\\delta x` its perturbation, read as "
              "`\\Delta x` (a finite perturbation: write `\\approx` where a line holds to first order); "
              "`tests/test_notation_documents.py` checks a derivation written so, and its wrong twin."]
    lines += ["", "## Refused", "",
              "A line that can be read two ways, or that uses notation symderiv does not know, is refused at its "
              "line and column with a message; it is never guessed.", "", "| written | message contains |", "|---|---|"]
    for tex, message in REFUSED:
        lines.append(f"| `{_cell(tex)}` | {_cell(message)} |")
    return "\n".join(lines) + "\n"


def test_docs_notation_is_generated_from_the_gallery():
    assert DOC.read_text(encoding="utf-8") == render(), "run: python tests/test_notation.py"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
