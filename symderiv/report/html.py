"""HTML reports: self-contained pages (no script, no CDN) with the mathematics as MathML, which
Chromium and Firefox render natively.

The LaTeX that becomes MathML is the LaTeX the other formats print: written by symderiv's printers
or re-emitted from the document grammar's parse tree (``render.math_latex``), never the author's
raw text. ``latex2mathml`` turns it into MathML elements whose text is escaped, and everything
else on the page goes through jinja2's autoescaping.
"""
from __future__ import annotations

import html
from typing import Any

from markupsafe import Markup

from symderiv.report.layout import prose_math
from symderiv.report.marks import TEXT_MARKS


class MathMLError(ValueError):
    pass


def mathml(tex: str, display: bool = False) -> Markup:
    """MathML for ``tex`` (inline, or a displayed block). A formula the converter cannot read is
    an error, so a page never shows raw TeX in place of a formula."""
    from latex2mathml.converter import convert

    try:
        out = convert(tex, display="block" if display else "inline")
    except Exception as exc:  # the converter's own errors on LaTeX it does not know
        raise MathMLError(f"cannot convert to MathML: {tex!r} ({type(exc).__name__}: {exc})") from None
    return Markup(out)  # noqa: S704 - latex2mathml escapes every text node it writes


def html_text(text: str) -> Markup:
    """Free text, escaped, with its plain-text formulas (``R^n``, ``dL/dy``, ``g_i``) as MathML."""
    return Markup(prose_math(text, lambda t: html.escape(t, quote=False), lambda m: str(mathml(m))))  # noqa: S704


def html_mark(status: str) -> Markup:
    """The status mark with its class: colour and weight come from the page's CSS."""
    return Markup('<span class="mark {0}" title="{0}">{1}</span>').format(status, TEXT_MARKS.get(status, "?"))


def mathml_or_code(tex: str, display: bool = False) -> Markup:
    """MathML, or (for a formula the converter cannot read) the formula as escaped code with a class
    that marks it, so one odd formula never stops a whole report."""
    try:
        return mathml(tex, display)
    except MathMLError:
        return Markup('<code class="unconverted">{}</code>').format(tex)


def html_filters() -> dict[str, Any]:
    return {"m": mathml_or_code, "mblock": lambda t: mathml_or_code(t, display=True), "ptext": html_text,
            "mark": html_mark}
