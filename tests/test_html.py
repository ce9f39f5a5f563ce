"""HTML reports: self-contained pages whose mathematics is MathML, checked as markup and, where
Chromium is installed (CI installs Debian's package), rendered in a real headless browser."""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from symderiv.derive.catalog import all_derivations, get_layer
from symderiv.documents.documents import check_file
from symderiv.report.render import render, render_document

ROOT = Path(__file__).resolve().parent.parent

WRONG = r"""# A wrong linear layer

Let $x \in \mathbf{R}^n$, $w \in \mathbf{R}^{n \times n}$, $y \in \mathbf{R}^n$ and $L \in \mathbf{R}$.

$$y = wx$$

$$\Delta y = w(x + \Delta x) - wx = w \Delta x$$

$$\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle \frac{dL}{dy}, w \Delta x \rangle = \langle w \frac{dL}{dy}, \Delta x \rangle$$

$$\Rightarrow \frac{dL}{dx} = w \frac{dL}{dy}$$
"""
# the wrong step: <dL/dy, w Δx> = <w dL/dy, Δx> holds only for symmetric w (it needs w^T)


class _Text(HTMLParser):
    """The text a reader sees outside MathML, the number of <math> elements, and external resources."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.math, self.text, self.external = 0, 0, [], []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag == "math":
            self.math += 1
            self.depth += 1
        if tag in ("style", "title"):
            self.skip += 1
        for k, v in attrs:
            if k in ("src", "href") and v and re.match(r"(?i)(https?:)?//", v):
                self.external.append(v)
        if tag == "script":
            self.external.append("script")

    def handle_endtag(self, tag):
        if tag == "math":
            self.depth -= 1
        if tag in ("style", "title"):
            self.skip -= 1

    def handle_data(self, data):
        if not self.depth and not self.skip:
            self.text.append(data)


def _read(page: str) -> _Text:
    p = _Text()
    p.feed(page)
    return p


def _wrong_doc(tmp_path: Path):
    f = tmp_path / "wrong.md"
    f.write_text(WRONG, encoding="utf-8")
    return check_file(str(f))


def test_catalog_pages_are_mathml_without_raw_tex_or_external_resources():
    for d in all_derivations():
        page = render([d], "html")
        seen = _read(page)
        text = "".join(seen.text)
        assert seen.math >= len(d.steps) + 2, d.title
        assert "\\" not in text and "$" not in text, (d.title, re.findall(r".{20}[\\$].{20}", text)[:3])
        assert not seen.external, seen.external
        assert "unconverted" not in page  # every formula became MathML
        assert render([d], "html") == page  # deterministic


def test_failing_document_page_marks_the_failure_with_reason_and_matrix_counterexample(tmp_path):
    doc = _wrong_doc(tmp_path)
    failed = [s.line for s, _ in doc.all_steps() if s.status == "failed"]
    assert failed == [9]
    page = render_document(doc, "html")
    text = "".join(_read(page).text)
    assert "\\" not in text and "$" not in text
    assert '<tr id="line-9" class="failed">' in page or 'class="failed"' in page
    assert '<a href="#line-9">line 9</a>' in page and 'id="line-9"' in page
    assert re.search(r'<div class="alert failed"><span class="mark failed" title="failed">✗</span> <em>line 9</em>: '
                     r'<strong>first-order terms differ', page)
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # anchors are unique
    assert "<mtable>" in page  # the counterexample's matrices (n = 2) are MathML tables
    assert '<span class="mark failed" title="failed">✗</span>' in page


def test_seed_notes_page_has_no_raw_tex_commands(tmp_path):
    page = render_document(check_file(str(ROOT / "examples" / "seed-notes.md")), "html")
    seen = _read(page)
    text = "".join(seen.text)
    assert seen.math > 100 and "unconverted" not in page
    ids = re.findall(r' id="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for line in sorted({s.line for s, _ in check_file(str(ROOT / "examples" / "seed-notes.md")).all_steps()
                        if s.status != "verified"}):
        assert f'<a href="#line-{line}">' in page and f'id="line-{line}"' in page  # every failure links to its line
    # author math the grammar does not read is shown as code, never typeset from raw TeX
    outside_code = re.sub(r"<code>.*?</code>", "", page, flags=re.S)
    assert "\\frac" not in "".join(_read(outside_code).text)
    assert "<!--" not in page and "&lt;!--" not in page and "\\frac" not in text


def test_html_escapes_author_text(tmp_path):
    f = tmp_path / "evil.md"
    f.write_text("# <script>alert(1)</script> title\n\nSome <img src=x onerror=alert(1)> prose.\n\n$$y = wx$$\n",
                 encoding="utf-8")
    page = render_document(check_file(str(f)), "html")
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page and "&lt;img" in page


# ---------------------------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------------------------
def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    if os.environ.get("CI"):
        pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
    pytest.skip("chromium not installed (apt-get install chromium)")


def _run_chromium(browser: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and raw RGBA/RGB rows of a non-interlaced 8-bit PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos: pos + 4])
        kind, body = data[pos + 4: pos + 8], data[pos + 8: pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6)
            channels = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1: (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], (prev[i - channels] if i >= channels else 0)
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, channels, rows


def _red_pixels(png: bytes) -> int:
    """Pixels of the failure colour (#c80000 and its antialiased neighbours: strong red, little else)."""
    width, ch, rows = _png_pixels(png)
    return sum(1 for row in rows for x in range(width)
               if row[x * ch] > 150 and row[x * ch + 1] < 60 and row[x * ch + 2] < 60)


def _pdf_text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (poppler-utils)")
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout


@pytest.mark.slow
def test_pages_render_in_headless_chromium(tmp_path):
    """Chromium parses the pages into MathML elements, the printed page shows no raw TeX, and the
    failing document's screenshot shows the failure colour where the verified page shows none."""
    browser = _chromium()
    pages = {"linear": render([get_layer("linear").derive("w")], "html"),
             "correlation": render([get_layer("correlation1d").derive("x", mode="same")], "html"),
             "wrong": render_document(_wrong_doc(tmp_path), "html")}
    red = {}
    for name, page in pages.items():
        f = tmp_path / f"{name}.html"
        f.write_text(page, encoding="utf-8")
        dom = _run_chromium(browser, "--dump-dom", f.as_uri()).stdout
        assert dom.count("<math") >= 10 and "<mfrac>" in dom, name
        pdf = tmp_path / f"{name}.pdf"
        _run_chromium(browser, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", f.as_uri())
        shown = _pdf_text(pdf)
        assert "Derivation" in shown or "symderiv check" in shown, name
        assert "\\frac" not in shown and "\\left" not in shown and "$" not in shown, name
        png = tmp_path / f"{name}.png"
        _run_chromium(browser, f"--screenshot={png}", "--window-size=1000,1600", f.as_uri())
        red[name] = _red_pixels(png.read_bytes())
    assert red["linear"] == 0 and red["correlation"] == 0
    assert red["wrong"] > 200, red


def test_a_formula_the_converter_rejects_is_code_not_a_crash():
    from symderiv.report.html import MathMLError, mathml, mathml_or_code

    with pytest.raises(MathMLError):
        mathml("x^")
    assert str(mathml_or_code("<b>x^")) == '<code class="unconverted">&lt;b&gt;x^</code>'


def test_course_index_links_each_document_and_lists_its_derivations(tmp_path):
    from symderiv.cli import main

    files = [ROOT / "examples" / "course" / "derivations" / n for n in ("linear.md", "mse.md")]
    out = tmp_path / "out"
    main(["report", *map(str, files), "--out", str(out)])
    index = (out / "index.html").read_text(encoding="utf-8")
    for name in ("linear", "mse"):
        assert f'<a href="{name}.html">' in index and (out / f"{name}.html").exists()
    docs = [check_file(str(f)) for f in files]
    titles = [d.title for doc in docs for d in doc.derivations]
    assert len(titles) >= 3 and index.count('<a href="linear.html">linear.html</a>') == 2
    assert "unconverted" not in index and "<math" in index
