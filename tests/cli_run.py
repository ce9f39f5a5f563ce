"""Run the ``symderiv`` command for tests: in-process through ``main()`` (fast, the default), or as
a subprocess for the end-to-end cases (the installed entry point, exit status of a real process)."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class CliResult:
    """What a test inspects of a run, whichever way it ran (the fields of CompletedProcess)."""

    returncode: int
    stdout: str
    stderr: str


def run_main(*args: str) -> CliResult:
    """``symderiv ARGS`` in this process: stdout and stderr captured, argparse's exits turned into
    the return code (an uncaught exception propagates, so a traceback fails the test)."""
    from symderiv.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


def run_subprocess(*args: str, timeout: float = 600) -> CliResult:
    """``python -m symderiv ARGS`` as a separate process: for end-to-end tests only."""
    r = subprocess.run([sys.executable, "-m", "symderiv", *args], capture_output=True, text=True, timeout=timeout)
    return CliResult(r.returncode, r.stdout, r.stderr)
