"""The machine line every benchmark prints: CPU model, cores, OS, and the versions that matter."""
from __future__ import annotations

import os
import platform


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what platform knows."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def machine_line(**versions: str) -> str:
    """``machine: …, N cores, OS`` and ``python …, name version, …`` on a second line."""
    extra = "".join(f", {k} {v}" for k, v in versions.items())
    return (f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}\n"
            f"python {platform.python_version()}{extra}")
