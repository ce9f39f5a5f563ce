"""Reports can neither read nor write files through TeX, never overwrite an input, never leave a
partial file, and give byte-identical output (issue 15)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import CliResult, run_main

from symderiv import cli
from symderiv.report.render import _md_prose, _tex_prose, math_latex

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "examples" / "course" / "derivations"


def need_pdflatex() -> None:
    if shutil.which("pdflatex") is None or shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex and pdftotext are required in CI (.ci/run installs texlive and poppler-utils)")
        pytest.skip("needs pdflatex and pdftotext (apt-get install texlive-latex-base poppler-utils)")


def run_cli(*args: str) -> CliResult:
    """``symderiv ARGS`` in this process (``main()``); the real process is exercised by the tests
    marked e2e (signals, an unwritable stdout)."""
    return run_main(*args)


DOC = r"""# Linear layer HEADING

Let $x \in \mathbf{R}^n$ be the input, $w \in \mathbf{R}^{m \times n}$ the weights, $y \in \mathbf{R}^m$ the output and $L \in \mathbf{R}$ the loss.

Prose PROSE and inline $MATH$ math.

$$y = wx$$

## Input gradient TITLE

$$\Delta y = w(x + \Delta x) - wx = w\Delta x$$ — NOTE

$$\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle w^T \frac{dL}{dy}, \Delta x \rangle$$

$$\Rightarrow \frac{dL}{dx} = w^T \frac{dL}{dy}$$
"""

# every TeX primitive that reads or writes a file, or could make one that does: {S} is a file
# with a marker in it, {W} a file the payload tries to create
PAYLOADS = {
    "input": r"\input{{{S}}} \input {S} ",
    "include": r"\include{{{SX}}}",
    "openin-read": r"\openin5={S} \read5 to\x \x",
    "openout-write-immediate": r"\immediate\openout5={W} \immediate\write5{{pwned}}\immediate\closeout5",
    "write18": r"\immediate\write18{{touch {W}}}",
    "catcode": r"\catcode`\|=0 |input{{{S}}} \catcode92=12",
    "csname": r"\csname input\endcsname{{{S}}}",
    "hat-hat-5c": r"^^5cinput{{{S}}}",
    "hat-hat-letters": r"^^5c^^69nput{{{S}}} ^^5cimmediate^^5copenout5={W}^^5cwrite5{{x}}",
    "hat-hat-control": "^^\x1cinput{{{S}}}",
    "hat-hat-uppercase": r"^^^^005cinput{{{S}}}",
}
MARKER = "SECRETMARKERXYZZY"


def _hostile(tmp_path: Path, payload: str, places: tuple[str, ...]) -> tuple[Path, Path, Path]:
    secret = tmp_path / "secret.tex"
    secret.write_text(MARKER + "\n", encoding="utf-8")
    written = tmp_path / "pwned.tex"
    text = payload.format(S=str(secret), SX=str(secret)[:-4], W=str(written))
    doc = DOC
    for place in ("HEADING", "PROSE", "MATH", "TITLE", "NOTE"):
        doc = doc.replace(place, text if place in places else "x", 1)
    f = tmp_path / "src" / "hostile.md"
    f.parent.mkdir()
    f.write_text(doc, encoding="utf-8")
    return f, secret, written


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow
@pytest.mark.parametrize("places", [("HEADING", "PROSE", "TITLE", "NOTE"), ("MATH",)], ids=["text", "math"])
@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_tex_primitives_in_prose_headings_notes_titles_do_nothing(tmp_path, name, places):
    """Compiled for real: the course PDF shows no file content and no file appears, both through
    symderiv's sandboxed pdflatex and when its .tex is compiled again with every restriction lifted
    (the escaping alone must hold). In inline math the reader may refuse the line instead (it
    parses prose math that contains \\in): then nothing at all is written."""
    need_pdflatex()
    f, secret, written = _hostile(tmp_path, PAYLOADS[name], places)
    out = tmp_path / "out"
    r = run_cli("report", str(f), "--out", str(out))
    if places == ("MATH",) and r.returncode == 2:
        assert f"{f}:5:" in r.stderr and r.stderr.count("\n") == 1
        assert not out.exists() and not written.exists()
        return
    assert r.returncode in (0, 1), r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "course.pdf", "course.tex", "hostile.html", "hostile.md", "hostile.tex", "index.html"]
    text = _pdf_text(out / "course.pdf")
    assert MARKER not in text
    assert "Input gradient" in text  # the title is there, as text
    assert not written.exists() and not (tmp_path / "src" / "pwned.tex").exists()

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    shutil.copy(out / "course.tex", scratch)
    env = {**os.environ, "openin_any": "a", "openout_any": "a"}
    c = subprocess.run(["pdflatex", "-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "course.tex"],
                       cwd=scratch, capture_output=True, text=True, timeout=180, env=env)
    assert c.returncode == 0, c.stdout[-2000:]
    assert sorted(p.name for p in scratch.iterdir()) == ["course.aux", "course.log", "course.pdf", "course.tex"]
    assert MARKER not in _pdf_text(scratch / "course.pdf")
    assert str(secret) not in (scratch / "course.log").read_text(encoding="latin-1").replace("\n", "")
    assert not written.exists()


def test_pdflatex_sandbox_refuses_reads_and_writes_outside_its_folder(tmp_path):
    """Defence in depth: even TeX that escaped escaping cannot read /abs/path or write outside."""
    need_pdflatex()
    secret = tmp_path / "secret.tex"
    secret.write_text(MARKER + "\n", encoding="utf-8")
    written = tmp_path / "pwned.tex"
    tex = ("\\documentclass{article}\\begin{document}A\n"
           f"\\immediate\\openout5={written} \\immediate\\write5{{x}}\\immediate\\closeout5\n"
           f"\\openin6={secret} \\ifeof6 \\else \\read6 to\\x \\x \\fi\n"
           "\\immediate\\write18{touch shell-escaped}\n\\end{document}\n")
    pdf, log = cli._compile_pdf(tex, "course")
    assert not written.exists() and not Path("shell-escaped").exists()
    assert pdf is None or MARKER not in pdf.decode("latin-1")
    pdf, log = cli._compile_pdf(f"\\documentclass{{article}}\\begin{{document}}\\input{{{secret}}}\\end{{document}}\n", "course")
    assert pdf is None and MARKER.encode() not in log


@pytest.mark.parametrize("math", [r"x^^5cinput{/etc/passwd}", r"\input{/etc/passwd}", r"x \catcode`\|=0", "x ≥ 0",
                                  r"\left( x", "x^", r"x^{T}^{T}", "٣", r"\csname input\endcsname"])
def test_tex_gets_only_math_the_grammar_parsed(math):
    out = _tex_prose(f"a ${math}$ b")
    latex = math_latex(math)
    if latex is None:
        assert out == "a \\texttt{" + out[len("a \\texttt{"):-len("} b")] + "} b"
        assert "\\input" not in out and "^^" not in out and "\\csname" not in out and "\\catcode" not in out
    else:
        assert out == f"a ${latex}$ b"
    assert "^^" not in out


def test_parsed_math_is_rewritten_from_the_tree():
    assert math_latex(r"x \in \mathbf{R}^{m \times n}") == r"x \in \mathbf{R}^{m \times n}"
    assert math_latex(r"x^T^T") == r"{x^{T}}^{T}"  # no double superscript
    assert math_latex(r"a \input{x}") is None  # \input is no command of the grammar: escaped as text
    assert math_latex(r"\frac{dL}{dx} = w^T \frac{dL}{dy}") == r"\frac{dL}{dx} = w^{T} \frac{dL}{dy}"


UNCOMPILABLE = r"""# Prose math that check accepts

Let $x \in \mathbf{R}^n$, $L \in \mathbf{R}$.

Here $x ≥ 0$ and $\left( x$ and $x^$ and $x^T^T$ and $\mathbb{Z}$ and ${$ and $}$ and $\\$.

$$L = x^T x$$
"""


@pytest.mark.slow
def test_prose_math_check_accepts_always_compiles(tmp_path):
    need_pdflatex()
    f = tmp_path / "odd.md"
    f.write_text(UNCOMPILABLE, encoding="utf-8")
    assert run_cli("check", str(f)).returncode in (0, 1)
    r = run_cli("report", str(f), "--out", str(tmp_path / "out"))
    assert r.returncode in (0, 1), r.stderr
    assert "x ≥ 0" in _pdf_text(tmp_path / "out" / "course.pdf").replace("≥", "≥")


@pytest.mark.parametrize("link", ["[x](javascript:alert(1))", "[x](JavaScript&#58;alert(1))", "[x](java\\script:a)",
                                  "[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](vbscript:msgbox(1))",
                                  "![t](http://evil.example/t.png)", "![t](//evil.example/t.png)",
                                  "![t](https://evil.example/t.png)", "[a [b] c](javascript:alert(1))",
                                  "[x][r]\n[r]: javascript:alert(1)", "<javascript:alert(1)>", "<img src=http://e/x>"])
def test_markdown_prose_keeps_no_script_link_or_remote_image(link):
    out = _md_prose(f"see {link} here")
    import re

    assert not re.search(r"\]\(", out) and not re.search(r"\]\s*:", out) and "<" not in out, out


def test_markdown_keeps_harmless_links_and_local_images():
    out = _md_prose("see [docs](https://example.org/a) and ![fig](img/fig.png)")
    assert out == "see [docs](https://example.org/a) and ![fig](img/fig.png)"


def test_markdown_report_neutralises_links(tmp_path):
    f = tmp_path / "l.md"
    f.write_text(DOC.replace("PROSE", "[x](javascript:alert(1)) ![](http://e.example/p.png)"), encoding="utf-8")
    r = run_cli("report", str(f), "--format", "md")
    assert r.returncode in (0, 1), r.stderr
    assert "](javascript" not in r.stdout and "](http://e.example" not in r.stdout
    assert "&#91;x&#93;(javascript:alert(1))" in r.stdout


# ---------------------------------------------------------------------------------------
# data safety
# ---------------------------------------------------------------------------------------
def _copy_linear(tmp_path: Path, name: str = "linear.md") -> Path:
    f = tmp_path / name
    f.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(COURSE / "linear.md", f)
    return f


@pytest.mark.slow
def test_report_refuses_to_overwrite_its_input(tmp_path):
    f = _copy_linear(tmp_path / "d")
    before = f.read_bytes()
    link = tmp_path / "link.md"
    link.symlink_to(f)
    for args in (["-o", str(f)], ["-o", str(link)], ["--out", str(f.parent)], ["--format", "tex", "-o", str(f)]):
        r = run_cli("report", str(f), *args)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and "refusing to write" in r.stderr and str(f) in r.stderr
        assert f.read_bytes() == before
    out = tmp_path / "out"
    out.mkdir()
    (out / "linear.md").symlink_to(f)  # an output path that is the input after symlinks
    r = run_cli("report", str(f), "--out", str(out))
    assert r.returncode == 2 and "refusing to write" in r.stderr and f.read_bytes() == before


def test_report_refuses_two_inputs_with_one_name(tmp_path):
    a, b = _copy_linear(tmp_path / "a"), _copy_linear(tmp_path / "b")
    r = run_cli("report", str(a), str(b), "--out", str(tmp_path / "build"))
    assert r.returncode == 2 and "would both be written to" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "build").exists()


def test_report_refuses_an_input_named_course(tmp_path):
    c = _copy_linear(tmp_path, "course.md")
    r = run_cli("report", str(c), "--out", str(tmp_path / "build"))
    assert r.returncode == 2 and "course.tex" in r.stderr and "combined course file" in r.stderr
    assert not (tmp_path / "build").exists()


def test_write_failure_leaves_old_files_and_no_temporary(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    f = _copy_linear(tmp_path / "src")
    assert cli.main(["report", str(f), "--out", str(out)]) == 0
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd):  # the disk fills up while the second file is written
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(cli.os, "fsync", failing_fsync)
    (tmp_path / "src" / "linear.md").write_text(COURSE.joinpath("linear.md").read_text() + "\nMore prose.\n")
    assert cli.main(["report", str(f), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "No space left on device" in err and "unchanged" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old


@pytest.mark.e2e
def test_sigterm_during_pdflatex_leaves_old_files(tmp_path):
    """An interrupted report: exit 143 with a message, old files intact, no partial or temporary file."""
    f = _copy_linear(tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    old = {"linear.md": b"old md\n", "linear.tex": b"old tex\n", "course.tex": b"old course\n", "course.pdf": b"%PDF old\n"}
    for name, data in old.items():
        (out / name).write_bytes(data)
    fake = tmp_path / "bin"
    fake.mkdir()
    started = tmp_path / "pdflatex-started"
    (fake / "pdflatex").write_text(f"#!/bin/sh\necho partial > course.pdf\ntouch {started}\nsleep 60\n")
    (fake / "pdflatex").chmod(0o755)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmpdir)}
    p = subprocess.Popen([sys.executable, "-m", "symderiv", "report", str(f), "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for _ in range(600):  # wait (at most a minute) for the fake pdflatex, then interrupt the report
        if started.exists() or p.poll() is not None:
            break
        time.sleep(0.1)
    assert started.exists(), p.communicate()
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 143, stderr
    assert "interrupted by SIGTERM" in stderr and "Traceback" not in stderr
    assert {q.name: q.read_bytes() for q in out.iterdir()} == old
    # the private build folder is gone too; what stays is jinja2's cache of compiled templates (its own
    # 0700 directory, complete files only: written to a temporary name and renamed)
    assert [q.name for q in tmpdir.iterdir() if not q.name.startswith("_jinja2-cache-")] == []


def test_sigint_in_process_cleans_up(tmp_path, monkeypatch, capsys):
    f = _copy_linear(tmp_path / "src")
    out = tmp_path / "out"

    def interrupted(tex, name):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_compile_pdf", interrupted)
    assert cli.main(["report", str(f), "--out", str(out)]) == 130
    assert "interrupted by SIGINT" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.e2e
def test_stdout_not_writable_is_an_output_error():
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "symderiv", "list"], stdout=full, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert r.returncode == 2
    assert r.stderr == "symderiv: error: cannot write standard output: No space left on device\n"


def test_stdout_error_in_process(monkeypatch, capsys):
    class Full:
        def write(self, text):
            raise OSError(28, "No space left on device")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Full())
    assert cli.main(["check", str(COURSE / "linear.md")]) == 2
    assert "cannot write standard output" in capsys.readouterr().err


@pytest.mark.slow
def test_course_pdf_is_byte_identical(tmp_path):
    need_pdflatex()
    files = [str(p) for p in sorted(COURSE.glob("*.md"))]
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("report", *files, "--out", str(a)).returncode == 0
    time.sleep(1.1)  # a different second on the clock: the dates must not come from it
    assert run_cli("report", *files, "--out", str(b)).returncode == 0
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for p in a.iterdir():
        assert p.read_bytes() == (b / p.name).read_bytes(), p.name


def test_atomic_writes_keep_file_mode_and_leave_no_temporary(tmp_path, capsys):
    f = _copy_linear(tmp_path / "src")
    target = tmp_path / "r.md"
    target.write_text("old")
    target.chmod(0o640)
    assert cli.main(["report", str(f), "-o", str(target)]) == 0
    assert target.read_text().startswith("> **symderiv check of")
    assert (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# ---------------------------------------------------------------------------------------
# property: whatever the author types, the LaTeX of prose uses only commands symderiv writes
# ---------------------------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from symderiv.report.render import _TEX_CHARS, _TOKEN_LATEX, tex_escape  # noqa: E402

_ALLOWED = {"textbackslash", "textasciitilde", "textless", "textgreater", "textbar", "texttt", "dots", "Delta",
            "cdot", "frac", "mathbf", "mathbb", "mathcal", "langle", "rangle", "sum", "in", "lVert", "rVert"}
_ALLOWED |= {m.group(1) for v in _TEX_CHARS.values() for m in __import__("re").finditer(r"\\([A-Za-z]+)", v)}
_ALLOWED |= {m.group(1) for t in _TOKEN_LATEX.values() for v in t.values()
             for m in __import__("re").finditer(r"\\([A-Za-z]+)", v)}
_ALLOWED |= set("ell alpha beta gamma delta epsilon varepsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma "
                "tau upsilon phi varphi chi psi omega Gamma Theta Lambda Xi Pi Phi Psi Omega".split())
_TRICKY = st.sampled_from(["\\", "{", "}", "$", "^", "^^", "5c", "_", "&", "#", "%", "~", "input", "in", "csname",
                           "catcode", "x", " ", "\n", "\x1c", "\x7f", "ℝ", "≥", "\\frac", "\\mathbf{R}", "^T",
                           "\\langle", "<", ">", "|", "\\left(", "(", ")", "[", "]", "=", ":=", "0", "٣"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TRICKY, max_size=30).map("".join))
def test_prose_latex_uses_only_commands_symderiv_writes(text):
    import re

    for out in (_tex_prose(text), tex_escape(text)):
        assert "^^" not in out
        body = re.sub(r"\\[{}$&#%_^ ,;|]", "", out)  # escaped specials and control symbols
        for m in re.finditer(r"\\([A-Za-z]+)", body):
            assert m.group(1) in _ALLOWED, (text, out)
            after = body[m.end(): m.end() + 1]
            assert not after.isalpha()
        assert not re.search(r"(?<!\\)[#%&~]", out), (text, out)
        depth = 0
        for ch in re.sub(r"\\[{}]", "", out):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            assert depth >= 0
        assert depth == 0
        assert all(32 <= ord(c) < 127 for c in out), (text, out)


def test_check_keeps_other_files_when_one_raises_an_unplaced_error(tmp_path, monkeypatch, capsys):
    """An error the reader did not place (simulated) names its file and does not drop the other results."""
    import symderiv.documents.documents as documents
    from symderiv.errors import DerivationError

    real = documents.check_file

    def check_file(path, check=True):
        if path.endswith("bad.md"):
            raise DerivationError("the forward definition is 2×1 but y is 3×1")
        return real(path, check)

    monkeypatch.setattr(documents, "check_file", check_file)
    bad = _copy_linear(tmp_path, "bad.md")
    good = _copy_linear(tmp_path, "good.md")
    assert cli.main(["check", str(bad), str(good)]) == 2
    out, err = capsys.readouterr()
    assert f"{good}: 14 verified" in out
    assert err == f"{bad}: the forward definition is 2×1 but y is 3×1\n"


def test_pdflatex_failure_keeps_its_log_and_no_stale_build_files(tmp_path, monkeypatch):
    """pdflatex fails (a fake one here): exit 2 naming course.log, which is copied out; md/tex are written."""
    f = _copy_linear(tmp_path / "src")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pdflatex").write_text("#!/bin/sh\necho 'fake failure log' > course.log\necho partial > course.pdf\nexit 1\n")
    (fake / "pdflatex").chmod(0o755)
    out = tmp_path / "out"
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    r = run_cli("report", str(f), "--out", str(out))
    assert r.returncode == 2 and "pdflatex failed" in r.stderr and str(out / "course.log") in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "course.log", "course.tex", "index.html", "linear.html", "linear.md", "linear.tex"]
    assert (out / "course.log").read_text() == "fake failure log\n"
