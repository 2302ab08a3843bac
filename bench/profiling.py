"""Optional profiles of the processes under test (bench/run.py --profile): py-spy samples them during
the measured phase (non-blocking, so the run is barely slowed) and writes collapsed stacks; the
summary lists where the samples fall, by function, self and inclusive.

    python -m bench.profiling FILE.txt [N]      # summarise a collapsed-stack file again
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def pyspy() -> str | None:
    exe = Path(sys.executable).parent / "py-spy"
    return str(exe) if exe.exists() else shutil.which("py-spy")


def out_path(opts, name: str) -> Path | None:
    if not getattr(opts, "profile", False) or pyspy() is None:
        return None
    d = Path(opts.profile_dir)
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{name}.txt"


def start(pid: int | None, out: Path | None, seconds: float, subprocesses: bool = True):
    exe = pyspy()
    if not pid or out is None or exe is None:
        return None
    args = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--output",
        str(out),
        "--rate",
        "250",
        "--nonblocking",
        "--gil",
        "--duration",
        str(max(1, int(round(seconds)))),
    ]
    if subprocesses:
        args.append("--subprocesses")
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish(proc, timeout: float = 60.0) -> None:
    if proc is None:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(10)


def _frames(stack: str) -> list[str]:
    out = []
    for f in stack.split(";"):
        if f.startswith("process ") or f.startswith("thread "):
            continue
        out.append(_LINE.sub(")", f.strip()))
    return out


def summarize(path: Path, top: int = 25) -> str:
    """Self and inclusive sample shares per function, from a py-spy raw (collapsed) file."""
    self_c: Counter = Counter()
    incl_c: Counter = Counter()
    total = 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        total += n
        self_c[frames[-1]] += n
        for f in set(frames):
            incl_c[f] += n
    if not total:
        return f"{path}: no samples"
    lines = [f"{path.name}: {total} samples", "  self%  function"]
    lines += [f"  {100 * c / total:5.1f}  {f}" for f, c in self_c.most_common(top)]
    lines += ["  incl%  function"]
    lines += [f"  {100 * c / total:5.1f}  {f}" for f, c in incl_c.most_common(top)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 25))
