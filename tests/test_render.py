"""Reports: deterministic, escaped, up to date in reports/, and the LaTeX compiles."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symderiv.cli import main
from symderiv.derive.catalog import get_layer
from symderiv.derive.derivation import Derivation
from symderiv.lang.operators import MatMul, Sym, Transpose
from symderiv.report.render import md_escape, render, tex_escape, tex_path

ROOT = Path(__file__).resolve().parent.parent


def test_render_is_deterministic():
    a = render([get_layer("linear").derive("w")], "md")
    b = render([get_layer("linear").derive("w")], "md")
    assert a == b
    assert render([get_layer("mse").derive("x")], "tex") == render([get_layer("mse").derive("x")], "tex")


def test_markdown_report_content():
    md = render([get_layer("linear").derive("w")], "md")
    # one aligned chain: every step a row, "=" aligned, the rule and a coloured mark on the right
    chain = md[md.index("\\begin{aligned}"): md.index("\\end{aligned}")]
    rows = chain.split(" \\\\\n")
    assert len(rows) == 11
    assert r"\Rightarrow \frac{dL}{dw} &= \frac{dL}{dy} x^{T}" in rows[-1]
    assert r"&= \operatorname{tr}\left(x \left(\frac{dL}{dy}\right)^{T} \Delta w\right)" in rows[6]
    assert r"\text{cyclic property of the trace}" in rows[6] and r"{\color{green}\checkmark}" in rows[6]
    assert "Jacobian cross-check: ✓ verified" in md
    assert "| $w$ | $m \\times n$ | weight matrix |" in md
    # the common method is said once, not on every step
    common = "both sides have the same index-graph canonical form"
    assert md.count(common) == 1


def test_failed_step_is_marked_with_reason():
    x, w, y = Sym("x", "n", 1), Sym("w", "n", "n"), Sym("y", "n", 1)
    d = Derivation("wrong <b>title</b> $x$", y, MatMul(w, x), x)
    d.perturb(MatMul(Transpose(w), x)).check()
    md = render([d], "md")
    assert "✗" in md and "Reason:" in md and "Counterexample" in md
    assert "<b>" not in md and "&lt;b&gt;" in md and "\\$x\\$" in md
    # the failure is a GitHub alert, linked from the summary; the counterexample is math, not JSON
    assert "> [!CAUTION]" in md and "[step 1](#step-1)" in md and '<a id="step-1"></a>' in md
    assert '{"' not in md and r"\text{left side} = 0" in md and r"\text{right side} = 1" in md
    tex = render([d], "tex")
    assert "\\$x\\$" in tex and r"\SDfailed{}" in tex and r"\text{left side} = 0" in tex


def test_escaping_functions():
    assert md_escape("*a* [l](http://x) <script>") == "\\*a\\* &#91;l&#93;(http://x) &lt;script&gt;"
    assert tex_escape(r"\input{/etc/passwd} 100% $") == r"\textbackslash{}input\{/etc/passwd\} 100\% \$"
    assert tex_escape("ΔL ⟨a⟩ 文") == r"$\Delta$L $\langle$a$\rangle$ \texttt{U+6587}"


@pytest.mark.slow
def test_committed_reports_are_up_to_date(tmp_path):
    assert main(["report", "--all", "--format", "md,tex", "--out", str(tmp_path)]) == 0
    generated = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in (ROOT / "reports").iterdir() if not p.name.startswith("seed-notes."))
    assert generated == committed, "reports/ is stale: run `symderiv report --all`"
    for name in generated:
        assert (tmp_path / name).read_bytes() == (ROOT / "reports" / name).read_bytes(), (
            f"reports/{name} is stale: run `symderiv report --all`"
        )


def test_latex_report_compiles(tmp_path):
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is required in CI (.ci/run installs texlive)")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    for layer, wrt in [("linear", "w"), ("mse", "x")]:
        tex = tmp_path / f"{layer}.tex"
        tex.write_text(render([get_layer(layer).derive(wrt)], "tex"), encoding="utf-8")
        r = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
        )
        assert r.returncode == 0, r.stdout[-3000:]
        assert (tmp_path / f"{layer}.pdf").stat().st_size > 1000


def test_seed_notes_report_is_up_to_date(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the report names the file as it was given
    for fmt in ("md", "tex"):
        out = tmp_path / f"seed-notes.{fmt}"
        main(["report", "examples/seed-notes.md", "--format", fmt, "-o", str(out)])
        committed = ROOT / "reports" / f"seed-notes.{fmt}"
        assert out.read_bytes() == committed.read_bytes(), (
            f"reports/seed-notes.{fmt} is stale: run `symderiv report examples/seed-notes.md --format {fmt} "
            f"-o reports/seed-notes.{fmt}`"
        )


def _square_linear_with_wrong_gradient() -> Derivation:
    """dL/dw read off as x (dL/dy)^T for y = w x with square w: transposed, so the step and the
    Jacobian cross-check both fail with counterexamples."""
    import sympy

    from symderiv import delta, gradient_symbol, inner, matrix, vector

    n = sympy.Symbol("n")
    x, w, y = vector("x", n), matrix("w", n, n), vector("y", n)
    g, dw = gradient_symbol(y), delta(w)
    d = Derivation("square linear", y, w * x, w)
    d.perturb((w + dw) * x - w * x).eq(dw * x).loss_differential().eq(inner(g, dw * x))
    d.eq(inner(x * g.T, dw), "trace-as-inner")
    d.read_off(x * g.T)
    return d.check()


def test_counterexamples_are_matrices_in_markdown_and_latex():
    d = _square_linear_with_wrong_gradient()
    assert d.jacobian.status == "failed" and d.jacobian.counterexample is not None
    for fmt in ("md", "tex"):
        out = render([d], fmt)
        assert '{"' not in out and '"lhs"' not in out  # never raw JSON
        # the wrong step's counterexample (n = 2: 2×2 and 2×1 operands) and the Jacobian's are both shown
        assert out.count("Counterexample at sizes") == 2, fmt
        assert r"\begin{pmatrix}" in out and r"\text{left side}" in out and r"\text{right side}" in out
        assert "n = 2" in out


def _pdflatex_or_skip() -> None:
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is required in CI (.ci/run installs texlive)")
        pytest.skip("pdflatex not installed")


def _overfull(log: str) -> list[str]:
    """Overfull boxes wider than 1 pt in a pdflatex log."""
    import re

    return [m.group(0) for m in re.finditer(r"Overfull \\[hv]box \(([0-9.]+)pt too (?:wide|high)\)[^\n]*", log)
            if float(m.group(1)) > 1.0]


@pytest.mark.slow
def test_every_committed_latex_report_compiles_without_overfull_boxes(tmp_path):
    """Every .tex in reports/ compiles, and nothing runs off the page (no overfull box over 1 pt)."""
    _pdflatex_or_skip()
    texs = sorted((ROOT / "reports").glob("*.tex"))
    assert len(texs) >= 20
    problems = {}
    for tex in texs:
        shutil.copy(tex, tmp_path / tex.name)
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
        log = (tmp_path / tex.with_suffix(".log").name).read_text(encoding="latin-1")
        if r.returncode != 0:
            problems[tex.name] = log[-2000:]
        elif _overfull(log):
            problems[tex.name] = _overfull(log)
    assert not problems, problems


def test_overfull_reader_reads_pdflatex_logs():
    log = "Overfull \\hbox (0.79999pt too wide) in paragraph\nOverfull \\hbox (53.2pt too wide) in alignment at lines 3--4\n"
    assert _overfull(log) == ["Overfull \\hbox (53.2pt too wide) in alignment at lines 3--4"]


def test_committed_reports_have_no_html_comments_or_spelled_out_characters():
    for p in sorted((ROOT / "reports").iterdir()):
        text = p.read_text(encoding="utf-8")
        assert "<!--" not in text and "&lt;!--" not in text and "textless{}!--" not in text, p.name
        assert "\\texttt{U+" not in text, p.name  # every character reports contain has a LaTeX form


def test_tex_escape_maps_the_characters_reports_contain():
    assert tex_escape("ℤ θ ⊙ ⊗ ⌊k/2⌋ ↦ ∞ •") == (
        r"$\mathbb{Z}$ $\theta$ $\odot$ $\otimes$ $\lfloor$k/2$\rfloor$ $\mapsto$ $\infty$ \textbullet{}")
    assert tex_escape("ΔΘ") == r"$\Delta \Theta$"  # adjacent formulas joined
    assert tex_escape("\\$x") == r"\textbackslash{}\$x"


def test_every_math_line_of_a_document_is_typeset(tmp_path):
    """Each math line of the seed notes and of the course (steps, forward and index definitions,
    claims) is a row of a chain in both formats, carrying its line number; no line is dropped."""
    from symderiv.documents.documents import check_file
    from symderiv.report.render import _line_parts, render_document

    files = [ROOT / "examples" / "seed-notes.md", *sorted((ROOT / "examples" / "course" / "derivations").glob("*.md"))]
    for f in files:
        doc = check_file(str(f))
        md, tex = render_document(doc, "md"), render_document(doc, "tex")
        lines = {ml.line: ml.text for b in doc.blocks if b.kind == "math" for ml in b.math}
        assert lines
        for n, text in lines.items():
            assert f"{{\\color{{gray}}\\text{{(line {n})}}}}" in md, (f, n)
            assert f"\\SDrule{{line~{n}}}" in tex, (f, n)
            for _left, right in _line_parts(text.strip()) or []:
                assert right.split(" \\\\")[0][:20] in md and right[:20] in tex, (f, n, right)


def test_document_marks_each_line_and_lists_failures_with_links():
    from symderiv.documents.documents import check_file
    from symderiv.report.render import render_document

    doc = check_file(str(ROOT / "examples" / "seed-notes.md"))
    md = render_document(doc, "md")
    failed_lines = sorted({s.line for s, _ in doc.all_steps() if s.status == "failed"})
    assert failed_lines
    for n in failed_lines:
        assert f"[line {n}](#line-{n}) ✗" in md and f'<a id="line-{n}"></a>' in md
        assert f"✗ *line {n}*:" in md
    assert "> [!CAUTION]" in md and "> [!WARNING]" in md


def test_notebook_display_uses_rule_titles_and_shows_counterexamples():
    from symderiv.report.display import derivation_mimebundle

    bundle = derivation_mimebundle(get_layer("linear").derive("w"))
    tex = bundle["text/latex"]
    assert r"\text{cyclic property of the trace}" in tex and "cyclic-trace" not in tex
    assert "\\Delta y &= " in tex and "\n& \\Delta y" not in tex  # aligned at "=", not before the line
    wrong = derivation_mimebundle(_square_linear_with_wrong_gradient())
    assert r"{\color{red}\boldsymbol{\times}}" in wrong["text/latex"]
    assert "Counterexample at sizes" in wrong["text/markdown"] and r"\begin{pmatrix}" in wrong["text/markdown"]
    html = wrong["text/html"]
    assert html.startswith('<div class="symderiv-report"><style id="report">') and "<body" not in html
    assert "max-width: 60em" not in html  # the page's body style would restyle the notebook
    assert "Counterexample at sizes" in html and "<mtable>" in html and 'class="mark failed"' in html


def test_course_has_title_contents_and_summary_and_fits_the_page(tmp_path):
    """The combined course file opens with a title, a summary of every document and derivation with
    its status, and a table of contents; compiled twice it has no overfull box over 1 pt."""
    from symderiv.documents.documents import check_file
    from symderiv.report.render import render_documents

    # a checkout's absolute path is longer than a column (CI's own checkout overflowed the summary table)
    deep = tmp_path / "a_checkout-of-symderiv.made.by.a.continuous.integration.runner" / "workspace_directory"
    deep.mkdir(parents=True)
    files = [ROOT / "examples" / "seed-notes.md", ROOT / "examples" / "course" / "derivations" / "linear.md"]
    for f in files:
        shutil.copy(f, deep / f.name)
    docs = [check_file(str(deep / f.name)) for f in files]
    tex = render_documents(docs, "tex")
    front = tex[: tex.index(r"\tableofcontents")]
    assert r"\maketitle" in front and r"\section*{Summary}" in front
    for d in docs:
        assert tex_path(d.path) in front
        for der in d.derivations:
            assert tex_escape(der.title).split("$")[0][:12] in front
    statuses = [s.status for s, _ in docs[0].all_steps()]
    counts = " & ".join(str(statuses.count(k)) for k in ("verified", "failed", "undecided"))
    assert r"\SDfailed{} failed & " + counts in front  # the seed notes fail, with their step counts
    _pdflatex_or_skip()
    (tmp_path / "course.tex").write_text(tex, encoding="utf-8")
    for _ in range(2):
        r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "course.tex"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-2000:]
    assert not _overfull((tmp_path / "course.log").read_text(encoding="latin-1"))


def test_compiled_template_cache_never_changes_output_and_never_fails(tmp_path, monkeypatch):
    """The jinja2 bytecode cache is an optimisation only: the same bytes with it, without it
    (SYMDERIV_NO_CACHE) and when its directory cannot be used or written."""
    import jinja2

    import symderiv.report.render as R

    d = get_layer("linear").derive("x")

    def fresh(**env: str) -> str:
        R._env.cache_clear()
        R._bytecode_cache.cache_clear()
        for k in ("SYMDERIV_NO_CACHE",):
            monkeypatch.delenv(k, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return render([d], "md")

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    first, second = fresh(), fresh()
    assert (tmp_path / f"_jinja2-cache-{os.getuid()}").is_dir()
    assert fresh(SYMDERIV_NO_CACHE="1") == first == second
    assert R._bytecode_cache() is None  # disabled by the variable
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setattr("tempfile.tempdir", str(blocked))  # the cache directory cannot be created
    assert fresh() == first and R._bytecode_cache() is None
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(ro))
    cache = (R._bytecode_cache.cache_clear(), R._bytecode_cache())[1]
    assert isinstance(cache, jinja2.BytecodeCache)
    cache.directory = str(ro / "missing")  # every write fails: compiled again, no error
    R._env.cache_clear()
    monkeypatch.setattr(R, "_bytecode_cache", lambda: cache)
    assert render([d], "md") == first
    R._env.cache_clear()


def test_forward_definitions_in_the_summary_are_typeset(tmp_path):
    """The summary lists each forward definition as math in every format, never as plain text (w·x)."""
    from symderiv.documents.documents import check_text
    from symderiv.report.render import render_document

    doc = check_text("# T\n\nLet $x \\in \\mathbf{R}^n$, $W \\in \\mathbf{R}^{m \\times n}$, $y \\in \\mathbf{R}^m$.\n\n"
                     "$$y = W x$$\n\n$$\\Delta y = W \\Delta x$$\n", "t.md")
    md, tex, html = (render_document(doc, f) for f in ("md", "tex", "html"))
    assert "Definition (line 5): $y = W x$ (forward definition)" in md
    assert "Definition (line 5): $y = W x$ (forward definition)" in tex
    assert re.search(r"Definition \(line 5\): <math[^>]*>.*</math> \(forward definition\)", html)
    assert "W·x" not in md + tex + html
