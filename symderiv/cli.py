"""Command-line interface: ``symderiv list | derive | report``.

Exit status: 0 when everything checked is verified, 1 when a step failed or is undecided,
2 when the input or the usage is wrong (a one-line message, never a traceback).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .catalog import CATALOG, all_derivations, get_layer
from .derivation import Derivation
from .errors import SymderivError
from .render import render


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit with its own status and usage dump
        raise _Usage(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="symderiv", description="Machine-checked derivations of neural-network gradients.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the built-in catalog of layers")

    d = sub.add_parser("derive", help="derive and verify one layer's gradient")
    d.add_argument("layer", help="layer name (see 'symderiv list')")
    d.add_argument("--wrt", help="variable to differentiate by (default: the layer's input)")
    d.add_argument("--mode", choices=["infinite", "valid", "full", "same"],
                   help="for correlation1d/convolution1d: sequences on ℤ (default) or a finite mode")
    d.add_argument("--format", default="text", choices=["text", "md", "tex", "json"])
    d.add_argument("-o", "--output", help="write to this file instead of standard output")

    c = sub.add_parser("check", help="check derivations written in Markdown files, line by line")
    c.add_argument("files", nargs="+", help="Markdown files")
    c.add_argument("--format", default="text", choices=["text", "json"])

    r = sub.add_parser("report", help="render the catalog (--all) or a checked Markdown document (FILE)")
    r.add_argument("files", nargs="*", metavar="FILE", help="Markdown documents to check and re-render")
    r.add_argument("--all", action="store_true", help="report every layer of the catalog")
    r.add_argument("--format", default=None, help="md or tex for a FILE; comma-separated md, tex, json for --all")
    r.add_argument("--out", default=None, help="output directory (--all: default reports; FILEs: one .md and .tex "
                   "per file, a combined course.tex and, where pdflatex exists, course.pdf)")
    r.add_argument("-o", "--output", help="output file for a single FILE (default: standard output)")
    return p


def _write(text: str, path: str | None) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        raise SymderivError(f"cannot write {path}: {exc.strerror}") from None


def _exit_code(ds: Sequence[Derivation]) -> int:
    return 0 if all(d.status == "verified" for d in ds) else 1


def cmd_list(args) -> int:
    for name, layer in CATALOG.items():
        modes = getattr(layer, "modes", None)
        extra = f"  modes: {', '.join(modes)}" if modes else ""
        print(f"{name:14s} {layer.summary:42s} wrt: {', '.join(layer.wrt)}{extra}")
    return 0


def cmd_derive(args) -> int:
    layer = get_layer(args.layer)
    d = layer.derive(args.wrt, mode=args.mode)
    text = d.explain() + "\n" if args.format == "text" else render([d], args.format)
    _write(text, args.output)
    return _exit_code([d])


def _compile_pdf(tex_path: str) -> None:
    """pdflatex where it exists; a missing pdflatex only skips the PDF."""
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        print(f"pdflatex not found: wrote {tex_path} without a PDF", file=sys.stderr)
        return
    folder, name = os.path.split(os.path.abspath(tex_path))
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name], cwd=folder,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise SymderivError(f"pdflatex failed on {tex_path}; see {os.path.join(folder, name[:-4] + '.log')}")


def report_names(d: Derivation) -> str:
    mode = f"-{d.mode}" if d.mode else ""
    return f"{d.name}{mode}-wrt-{d.wrt.name}"


def cmd_check(args) -> int:
    from .documents import check_file
    from .reader import ReadError

    results, errors = [], []
    for path in args.files:
        try:
            results.append(check_file(path))
        except ReadError as exc:
            errors.append(exc)
    if args.format == "json":
        import json

        payload = {"files": [r.to_dict() for r in results]
                   + [{"path": e.path, "status": "error", "error": str(e), "line": e.line, "column": e.col,
                       "derivations": []} for e in errors]}
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        for r in results:
            sys.stdout.write(render_check(r))
        for e in errors:
            print(f"{e}", file=sys.stderr)
    if errors:
        return 2
    return 0 if all(r.status == "verified" for r in results) else 1


def render_check(doc) -> str:
    from .printing import _greek_text

    """One line per checked step: file:line: ✓ rule / ✗ reason, then a summary."""
    marks = {"verified": "✓", "failed": "✗", "undecided": "?"}
    lines = []
    counts = {"verified": 0, "failed": 0, "undecided": 0}
    for step, owner in doc.all_steps():
        st = step.status
        counts[st] += 1
        v = step.verdict
        col = getattr(step, "col", None)
        head = f"{doc.path}:{step.line}:{col}: {marks[st]} " if col else f"{doc.path}:{step.line}: {marks[st]} "
        text = getattr(step, "text_override", None) or step.plain()
        if st == "verified":
            order = " (to first order)" if v is not None and v.relation == "first-order" else ""
            lines.append(head + f"{step.rule or 'claim'}{order}  {text}")
        else:
            lines.append(head + f"{v.reason or v.method}  [{text}]")
            if v.counterexample is not None:
                lines.append("    counterexample:\n" + v.counterexample.describe("      "))
    for d in doc.derivations:
        j = d.jacobian
        if j is not None:
            lines.append(f"{doc.path}: {marks[j.status]} Jacobian cross-check of {d.title}: d{_greek_text(d.loss)}/d{d.wrt.name} = "
                         f"{d.to_dict()['gradient_text']} ({j.status})")
    if getattr(doc, "nothing_checked", False):
        lines.append(f"{doc.path}: {doc.nothing_reason} — not verified")
    else:
        lines.append(f"{doc.path}: {counts['verified']} verified, {counts['failed']} failed, {counts['undecided']} undecided "
                     f"({len(doc.derivations)} derivations, {len(doc.claims)} other statements) — {doc.status}")
    return "\n".join(lines) + "\n"


def cmd_report(args) -> int:
    if args.files and args.all:
        raise _Usage("symderiv report: give either --all or FILEs, not both")
    if args.files:
        from .documents import check_file
        from .render import render_document, render_documents

        docs = [check_file(f) for f in args.files]
        ok = all(d.status == "verified" for d in docs)
        if args.out is None:
            if len(docs) > 1 or args.format not in (None, "md", "tex"):
                raise _Usage("symderiv report: several FILEs need --out DIR; one FILE takes --format md|tex")
            _write(render_document(docs[0], args.format or "md"), args.output)
            return 0 if ok else 1
        for d in docs:
            stem = os.path.splitext(os.path.basename(d.path))[0]
            for fmt in ("md", "tex"):
                _write(render_document(d, fmt), os.path.join(args.out, f"{stem}.{fmt}"))
        _write(render_documents(docs, "tex"), os.path.join(args.out, "course.tex"))
        _compile_pdf(os.path.join(args.out, "course.tex"))
        for d in docs:
            print(f"{d.status:10s} {d.path}")
        return 0 if ok else 1
    if not args.all:
        raise _Usage("symderiv report: give --all (the catalog) or FILEs")
    args.format = args.format or "md,tex"
    args.out = args.out or "reports"
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("md", "tex", "json")]
    if bad or not formats:
        raise _Usage(f"symderiv report: unknown format {', '.join(bad) or '(none)'}; choose among md, tex, json")
    ds = all_derivations()
    for fmt in formats:
        for d in ds:
            _write(render([d], fmt), os.path.join(args.out, f"{report_names(d)}.{fmt}"))
    index = ["# symderiv catalog reports", "", "Generated by `symderiv report --all`. Do not edit by hand.", "",
             "| derivation | gradient | status | Jacobian check | files |", "|---|---|---|---|---|"]
    for d in ds:
        info = d.to_dict()
        files = " ".join(f"[{fmt}]({report_names(d)}.{fmt})" for fmt in formats)
        index.append(f"| {info['title']} | $\\frac{{dL}}{{d{info['wrt']}}} = {info['gradient']}$ | {info['status']} | {info['jacobian_check']} | {files} |")
    _write("\n".join(index) + "\n", os.path.join(args.out, "README.md"))
    for d in ds:
        print(f"{d.status:10s} {d.title}")
    return _exit_code(ds)


COMMANDS = {"list": cmd_list, "derive": cmd_derive, "check": cmd_check, "report": cmd_report}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except _Usage as exc:
        print(str(exc), file=sys.stderr)
        print("run 'symderiv --help' for usage", file=sys.stderr)
        return 2
    except SymderivError as exc:
        print(f"symderiv: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 2
    except Exception as exc:  # a bug, not bad input: still no raw traceback for the user
        if os.environ.get("SYMDERIV_DEBUG"):
            raise
        print(f"symderiv: internal error: {type(exc).__name__}: {exc} (set SYMDERIV_DEBUG=1 for the "
              "traceback, and please report it)", file=sys.stderr)
        return 2


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
