"""Peak memory of a command's whole process tree (a connector's page workers, Dagster's step
processes), sampled from /proc: `resource.getrusage` sees one process, or the largest child."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.2


def tree_rss_mb(root: int) -> float:
    """RSS of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total / 1024


def communicate_sampling(
    process: subprocess.Popen[Any], timeout: float | None = None
) -> tuple[Any, Any, float]:
    """`process.communicate(timeout)`, sampling the RSS of its process tree meanwhile: its stdout,
    its stderr and the peak (MB). A timeout raises subprocess.TimeoutExpired as communicate does."""
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(process.pid))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
    return out, err, peak
