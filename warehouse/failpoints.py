"""Crash points for the crash tests: the process kills itself with SIGKILL where a test asks.

A failpoint is a named place in the code where a crash is the most damaging (a day's file renamed
into landing while the others are not; a model committed while the models after it are not; the
published copy written but not yet renamed). Setting `OMNI_FAILPOINT=<name>` (or
`<name>:<detail>`, e.g. `model.committed:marts.fct_orders`) makes the process die there exactly
as a power cut or the OOM killer would: no exception handler, no `finally`, no atexit. Unset (in
every normal run) a failpoint costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "OMNI_FAILPOINT"


def failpoint(name: str, detail: str = "") -> None:
    wanted = os.environ.get(ENV)
    if wanted and wanted in (name, f"{name}:{detail}"):
        os.kill(os.getpid(), signal.SIGKILL)
