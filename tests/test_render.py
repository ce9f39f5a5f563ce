"""Reports: deterministic, escaped, up to date in reports/, and the LaTeX compiles."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from symderiv.cli import main
from symderiv.derive.catalog import get_layer
from symderiv.derive.derivation import Derivation
from symderiv.lang.operators import MatMul, Sym, Transpose
from symderiv.report.render import md_escape, render, tex_escape

ROOT = Path(__file__).resolve().parent.parent


def test_render_is_deterministic():
    a = render([get_layer("linear").derive("w")], "md")
    b = render([get_layer("linear").derive("w")], "md")
    assert a == b
    assert render([get_layer("mse").derive("x")], "tex") == render([get_layer("mse").derive("x")], "tex")


def test_markdown_report_content():
    md = render([get_layer("linear").derive("w")], "md")
    assert r"$\Rightarrow \frac{dL}{dw} = \frac{dL}{dy} x^{T}$" in md
    assert "| 7 | $= \\operatorname{tr}\\left(x \\frac{dL}{dy}^{T} \\Delta w\\right)$ | cyclic property of the trace | ✓ |" in md
    assert "Jacobian cross-check: ✓ verified" in md
    assert "| $w$ | $m \\times n$ | weight matrix |" in md


def test_failed_step_is_marked_with_reason():
    x, w, y = Sym("x", "n", 1), Sym("w", "n", "n"), Sym("y", "n", 1)
    d = Derivation("wrong <b>title</b> $x$", y, MatMul(w, x), x)
    d.perturb(MatMul(Transpose(w), x)).check()
    md = render([d], "md")
    assert "✗" in md and "Reason:" in md and "Counterexample" in md
    assert "<b>" not in md and "&lt;b&gt;" in md and "\\$x\\$" in md
    tex = render([d], "tex")
    assert "\\$x\\$" in tex and r"$\times$" in tex


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
