"""Command-line interface: ``symderiv list | derive | report``.

Exit status: 0 when everything checked is verified, 1 when a step failed or is undecided,
2 when the input or the usage is wrong or an output cannot be written (a one-line message, never a
traceback), 130 on SIGINT (Ctrl-C) and 143 on SIGTERM.

Outputs are never partial: every file is first written to a temporary file in its own folder and
renamed into place only when all of them are complete (the renames run with SIGINT/SIGTERM
blocked, so a run leaves either all old or all new files); the PDF is built in a private
temporary folder. An output path that is one of the input files is refused.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

# Only light modules at the top: ``--help``, ``list`` and usage errors never import SymPy (about
# 0.5 s); each command imports what it needs.
from symderiv.derive.catalog import ENTRIES, get_layer
from symderiv.errors import SymderivError
from symderiv.lang.status import mark

if TYPE_CHECKING:
    from symderiv.derive.derivation import Derivation


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit with its own status and usage dump
        raise _Usage(f"{self.prog}: {message}")


_DOUBLE_CHECK_HELP = ("also run the optional second proof of each matrix step (an explicit polynomial identity "
                      "with symbolic entries at the size bound); slower. Reports always run it")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="symderiv", description="Machine-checked derivations of neural-network gradients.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the built-in catalog of layers")

    d = sub.add_parser("derive", help="derive and verify one layer's gradient")
    d.add_argument("layer", help="layer name (see 'symderiv list')")
    d.add_argument("--wrt", help="variable to differentiate by (default: the layer's input)")
    d.add_argument("--mode", choices=["infinite", "valid", "full", "same"],
                   help="for correlation1d/convolution1d: sequences on ℤ (default) or a finite mode; for conv2d: "
                   "valid (default), full or same")
    d.add_argument("--stride", type=int, help="for conv2d in valid mode: the stride in both axes (default 1)")
    d.add_argument("--dilation", type=int, help="for conv2d in valid mode with stride 1: the kernel's dilation "
                   "in both axes (default 1)")
    d.add_argument("--format", default="text", choices=["text", "md", "tex", "json"])
    d.add_argument("-o", "--output", help="write to this file instead of standard output")
    d.add_argument("--double-check", action="store_true", help=_DOUBLE_CHECK_HELP)

    c = sub.add_parser("check", help="check derivations written in Markdown files, line by line")
    c.add_argument("files", nargs="+", help="Markdown files")
    c.add_argument("--format", default="text", choices=["text", "json", "github"],
                   help="text (default), json, or github: GitHub Actions annotations on the wrong lines")
    c.add_argument("--double-check", action="store_true", help=_DOUBLE_CHECK_HELP)

    r = sub.add_parser("report", help="render the catalog (--all) or a checked Markdown document (FILE)")
    r.add_argument("files", nargs="*", metavar="FILE", help="Markdown documents to check and re-render")
    r.add_argument("--all", action="store_true", help="report every layer of the catalog")
    r.add_argument("--format", default=None, help="md, tex or html for a FILE; comma-separated md, tex, html, json "
                   "for --all")
    r.add_argument("--out", default=None, help="output directory (--all: default reports; FILEs: one .md, .tex and "
                   ".html per file, an index.html, a combined course.tex and, where pdflatex exists, course.pdf)")
    r.add_argument("-o", "--output", help="output file for a single FILE (default: standard output)")
    return p


class _Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwind through every ``finally`` (temporary files go) and exit."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _StdoutError(Exception):
    pass


_STDOUT_BROKEN = False


def _out(text: str) -> None:
    """Write to standard output; a stdout that cannot take the text is an output error, not a bug."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        raise _StdoutError(exc.strerror or str(exc)) from None


def _write(text: str, path: str | None) -> None:
    if path is None:
        _out(text)
        return
    _commit([(path, text.encode("utf-8"))])


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while files are renamed into place: a run ends with all old or all new files."""
    mask = {signal.SIGINT, signal.SIGTERM}
    can = hasattr(signal, "pthread_sigmask")
    if can:
        signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        yield
    finally:
        if can:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, mask)


def _file_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _commit(files: Sequence[tuple[str, bytes]]) -> None:
    """Write every file to a temporary file in its own folder, then rename them all into place.

    A failure or a signal before the renames leaves every old file as it was and no temporary file
    behind; a reader of the folder sees old or new files, never a partial or empty one."""
    temps: list[tuple[str, str]] = []
    path = ""
    try:
        for path, data in files:
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, _file_mode(path))
        with _signals_blocked():
            for i, (tmp, path) in enumerate(temps):
                os.replace(tmp, path)
                temps[i] = ("", path)
    except OSError as exc:
        done = sum(1 for tmp, _ in temps if not tmp)
        state = ("the previous files are unchanged" if not done
                 else f"{done} of {len(files)} files were already replaced")
        raise SymderivError(f"cannot write {path}: {exc.strerror or exc}; {state}") from None
    finally:
        for tmp, _ in temps:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_outputs(outputs: Sequence[tuple[str, str]], inputs: Sequence[str]) -> None:
    """Refuse before any work: an output that is an input (after symlinks), or two files for one path.

    ``outputs`` pairs each output path with what produces it (an input path, or a description)."""
    seen: dict[str, str] = {}
    for out, producer in outputs:
        for inp in inputs:
            if _same_file(out, inp):
                raise SymderivError(f"refusing to write {out}: it is the input file {inp}")
        key = os.path.realpath(out)
        if key in seen:
            raise SymderivError(f"{seen[key]} and {producer} would both be written to {out}; "
                                "give files with different names, or report them into different --out folders")
        seen[key] = producer


def _exit_code(ds: Sequence[Derivation]) -> int:
    return 0 if all(d.status == "verified" for d in ds) else 1


def cmd_list(args) -> int:
    name_w = max(len(e.name) for e in ENTRIES)
    summary_w = max(len(e.summary) for e in ENTRIES)
    for layer in ENTRIES:
        extra = f"  modes: {', '.join(layer.modes)}" if layer.modes else ""
        _out(f"{layer.name:{name_w}s}  {layer.summary:{summary_w}s}  wrt: {', '.join(layer.wrt)}{extra}\n")
    return 0


def cmd_derive(args) -> int:
    layer = get_layer(args.layer)
    if args.stride is not None or args.dilation is not None:
        if layer.name not in ("conv2d", "conv2d-batch"):
            raise SymderivError(f"--stride and --dilation apply to conv2d, not {layer.name!r}")
        d = layer.derive(args.wrt, mode=args.mode, stride=args.stride, dilation=args.dilation)
    else:
        d = layer.derive(args.wrt, mode=args.mode)
    if args.format == "text":  # plain text needs neither jinja2 nor the reader's lark (~25 ms of imports)
        text = d.explain() + "\n"
    else:
        from symderiv.report.render import render

        text = render([d], args.format)
    _write(text, args.output)
    return _exit_code([d])


# pdflatex never runs a shell, never reads a file outside its folder or the TeX tree, never writes
# outside its private folder; dates and the PDF /ID come from a fixed epoch, so PDFs are byte-identical.
PDFLATEX_ENV = {"openin_any": "p", "openout_any": "p", "shell_escape": "f", "SOURCE_DATE_EPOCH": "0",
                "FORCE_SOURCE_DATE": "1"}


def _compile_pdf(tex: str, name: str) -> tuple[bytes | None, bytes | None]:
    """Compile ``tex`` as ``name``.tex in a private temporary folder: (pdf bytes, None) on success,
    (None, log bytes) when pdflatex fails, (None, None) when pdflatex is missing."""
    if shutil.which("pdflatex") is None:
        return None, None
    build = tempfile.mkdtemp(prefix="symderiv-pdf-")
    try:
        with open(os.path.join(build, name + ".tex"), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(tex)
        env = {**os.environ, **PDFLATEX_ENV, "TEXMFOUTPUT": build}
        for _run in range(2):  # the second run sets the table of contents the first one wrote
            r = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                                name + ".tex"], cwd=build, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
            if r.returncode != 0:
                break
        pdf = os.path.join(build, name + ".pdf")
        if r.returncode == 0 and os.path.exists(pdf):
            with open(pdf, "rb") as fh:
                return fh.read(), None
        log = os.path.join(build, name + ".log")
        with open(log, "rb") if os.path.exists(log) else contextlib.nullcontext(None) as fh:
            return None, (fh.read() if fh else b"")
    except subprocess.TimeoutExpired:
        raise SymderivError(f"pdflatex ran for more than 300 s on {name}.tex") from None
    finally:
        shutil.rmtree(build, ignore_errors=True)


def report_names(d: Derivation) -> str:
    mode = f"-{d.mode}" if d.mode else ""
    return f"{d.name}{mode}-wrt-{d.wrt.name}"


def cmd_check(args) -> int:
    from symderiv.documents.documents import check_file
    from symderiv.errors import ReadError
    from symderiv.report.text import render_check

    results, errors = [], []
    for path in args.files:
        try:
            results.append(check_file(path))
        except ReadError as exc:
            errors.append(exc)
        except SymderivError as exc:  # an error the reader did not place: keep the other files' results
            errors.append(_FileError(path, exc))
    if args.format == "json":
        import json

        payload = {"files": [r.to_dict() for r in results]
                   + [{"path": e.path, "status": "error", "error": str(e), "line": e.line, "column": e.col,
                       "derivations": []} for e in errors]}
        _out(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        from symderiv.report.text import gh_data, gh_property, render_github

        for r in results:
            _out(render_github(r))
        for e in errors:  # an unreadable file is an error at its position too
            where = f"file={gh_property(e.path)}" + (f",line={e.line}" if e.line else "")
            where += f",col={e.col}" if e.col else ""
            _out(f"::error {where},title=symderiv%3A cannot read::{gh_data(getattr(e, 'message', str(e)))}\n")
            print(f"{e}", file=sys.stderr)
    else:
        for r in results:
            _out(render_check(r))
        for e in errors:
            print(f"{e}", file=sys.stderr)
    if errors:
        return 2
    return 0 if all(r.status == "verified" for r in results) else 1


class _FileError:
    """A user error raised while checking ``path`` that carries no position of its own."""

    def __init__(self, path: str, exc: SymderivError):
        self.path, self.message = path, str(exc)
        line, col = getattr(exc, "line", None), getattr(exc, "col", None)
        self.line = line if isinstance(line, int) else None
        self.col = col if isinstance(col, int) else None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.col}" if self.line and self.col else self.path
        return f"{where}: {self.message}"


def cmd_report(args) -> int:
    if args.files and args.all:
        raise _Usage("symderiv report: give either --all or FILEs, not both")
    if args.files:
        from symderiv.report.render import render_document, render_documents, render_index

        if args.out is None:
            if len(args.files) > 1 or args.format not in (None, "md", "tex", "html"):
                raise _Usage("symderiv report: several FILEs need --out DIR; one FILE takes --format md|tex|html")
            if args.output is not None:
                _check_outputs([(args.output, args.files[0])], args.files)
            doc = _check_one(args.files[0])
            _write(render_document(doc, args.format or "md"), args.output)
            return 0 if doc.status == "verified" else 1
        # every output is named by its input's base name; two inputs with one base name, or an input
        # named course.md (whose course.tex is the combined file), are refused before any work
        outputs = [(os.path.join(args.out, f"{_stem(f)}.{fmt}"), f) for f in args.files
                   for fmt in ("md", "tex", "html")]
        outputs += [(os.path.join(args.out, f"course.{ext}"), "the combined course file")
                    for ext in ("tex", "pdf", "log")]
        outputs += [(os.path.join(args.out, "index.html"), "the course index page")]
        _check_outputs(outputs, args.files)
        docs = [_check_one(f) for f in args.files]
        ok = all(d.status == "verified" for d in docs)
        files = []
        for d in docs:
            for fmt in ("md", "tex", "html"):
                path = os.path.join(args.out, f"{_stem(d.path)}.{fmt}")
                files.append((path, render_document(d, fmt).encode("utf-8")))
        files.append((os.path.join(args.out, "index.html"),
                      render_index([(f"{_stem(d.path)}.html", d.path, d.status) for d in docs],
                                   "symderiv course report", docs).encode("utf-8")))
        course = render_documents(docs, "tex")
        files.append((os.path.join(args.out, "course.tex"), course.encode("utf-8")))
        pdf, log = _compile_pdf(course, "course")
        if pdf is not None:
            files.append((os.path.join(args.out, "course.pdf"), pdf))
        elif log is not None:
            files.append((os.path.join(args.out, "course.log"), log))
        _commit(files)
        if pdf is None and log is None:
            print(f"pdflatex not found: wrote {os.path.join(args.out, 'course.tex')} without a PDF", file=sys.stderr)
        elif pdf is None:
            raise SymderivError(f"pdflatex failed on {os.path.join(args.out, 'course.tex')}; "
                                f"see {os.path.join(args.out, 'course.log')}")
        _out("".join(f"{d.status:10s} {d.path}\n" for d in docs))
        return 0 if ok else 1
    if not args.all:
        raise _Usage("symderiv report: give --all (the catalog) or FILEs")
    args.format = args.format or "md,tex"
    args.out = args.out or "reports"
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("md", "tex", "html", "json")]
    if bad or not formats:
        raise _Usage(f"symderiv report: unknown format {', '.join(bad) or '(none)'}; choose among md, tex, html, json")
    from symderiv.derive.catalog import all_derivations
    from symderiv.report.render import md_text, render

    ds = all_derivations()
    files = []
    for fmt in formats:
        for d in ds:
            files.append((os.path.join(args.out, f"{report_names(d)}.{fmt}"), render([d], fmt).encode("utf-8")))
    index = ["# symderiv catalog reports", "", "Generated by `symderiv report --all`. Do not edit by hand.", "",
             "| derivation | gradient | status | Jacobian check | files |", "|---|---|---|---|---|"]
    for d in ds:
        info = d.to_dict()
        links = " ".join(f"[{fmt}]({report_names(d)}.{fmt})" for fmt in formats)
        index.append(f"| {md_text(info['title'])} | $\\frac{{dL}}{{d{info['wrt']}}} = {info['gradient']}$ "
                     f"| {mark(info['status'])} {info['status']} "
                     f"| {mark(info['jacobian_check'])} {info['jacobian_check']} | {links} |")
    files.append((os.path.join(args.out, "README.md"), ("\n".join(index) + "\n").encode("utf-8")))
    if "html" in formats:
        from symderiv.report.render import render_index

        pages = [(f"{report_names(d)}.html", d.title, d.status) for d in ds]
        files.append((os.path.join(args.out, "index.html"),
                      render_index(pages, "symderiv catalog reports").encode("utf-8")))
    _commit(files)
    _out("".join(f"{d.status:10s} {d.title}\n" for d in ds))
    return _exit_code(ds)


def _check_one(path: str):
    from symderiv.documents.documents import check_file
    from symderiv.errors import ReadError

    try:
        return check_file(path)
    except ReadError:
        raise
    except SymderivError as exc:  # not placed by the reader: at least name the file
        raise SymderivError(str(_FileError(path, exc))) from None


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


COMMANDS = {"list": cmd_list, "derive": cmd_derive, "check": cmd_check, "report": cmd_report}


_SIGNAL_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


def _on_signal(signum, frame) -> None:
    raise _Interrupted(signum)


def main(argv: Sequence[str] | None = None) -> int:
    global _STDOUT_BROKEN
    import threading

    previous = {}
    double_check_before: bool | None = None
    if threading.current_thread() is threading.main_thread():
        for sig in _SIGNAL_NAMES:
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        args = _parser().parse_args(argv)
        if getattr(args, "double_check", False) or args.command == "report":
            # reports are the record a reader keeps: they always carry the second proof
            from symderiv.kernel.budget import set_double_check

            double_check_before = set_double_check(True)
        code = COMMANDS[args.command](args)
        try:
            sys.stdout.flush()
        except OSError as exc:
            raise _StdoutError(exc.strerror or str(exc)) from None
        return code
    except _Usage as exc:
        print(str(exc), file=sys.stderr)
        print("run 'symderiv --help' for usage", file=sys.stderr)
        return 2
    except SymderivError as exc:
        print(f"symderiv: error: {exc}", file=sys.stderr)
        return 2
    except _StdoutError as exc:
        print(f"symderiv: error: cannot write standard output: {exc}", file=sys.stderr)
        if sys.stdout is sys.__stdout__:
            # the text still buffered would fail again at exit, with Python's own noise
            _STDOUT_BROKEN = True
        return 2
    except (_Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, _Interrupted) else signal.SIGINT
        print(f"symderiv: interrupted by {_SIGNAL_NAMES.get(signum, signum)}; temporary files removed, "
              "no output file was left partial", file=sys.stderr)
        return 128 + int(signum)
    except Exception as exc:  # a bug, not bad input: still no raw traceback for the user
        if os.environ.get("SYMDERIV_DEBUG"):
            raise
        print(f"symderiv: internal error: {type(exc).__name__}: {exc} (set SYMDERIV_DEBUG=1 for the "
              "traceback, and please report it)", file=sys.stderr)
        return 2
    finally:
        if double_check_before is not None:
            from symderiv.kernel.budget import set_double_check

            set_double_check(double_check_before)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def console_entry() -> None:
    code = main()
    if _STDOUT_BROKEN:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # main() already reported a stdout that fails
            stream.flush()
    if sys.gettrace() is None and "coverage" not in sys.modules:
        # The interpreter's teardown (freeing SymPy's caches, classes and modules one by one) costs
        # 50-80 ms of CPU, more than most commands' own work. Nothing is left for it to do: the
        # output is flushed above, files are renamed into place and temporary folders removed in
        # main()'s `finally` blocks, and no thread is running. A tracer (coverage) keeps the normal
        # exit, which runs its atexit hooks.
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console_entry()
