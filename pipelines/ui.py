"""`make ui`: the sandbox plus `dagster dev` on 127.0.0.1, stopped cleanly by Ctrl-C or SIGTERM.

A backgrounded `dagster dev` inherits an ignored SIGINT, and Dagster maps SIGTERM onto the same
handler, so it would ignore both (stack notes §2.4). We start it with SIGINT restored and forward
our own SIGINT/SIGTERM to it, then stop the sandbox we started, by its PID. Dagster's own
shutdown can stall (a daemon thread waiting on a code server that already stopped): after
`STOP_GRACE` seconds its process group gets SIGTERM, then SIGKILL.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

STOP_GRACE = 15.0  # seconds dagster dev gets to stop by itself, then as long again after SIGTERM


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:  # any HTTP answer means the server is up
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not come up within {seconds:.0f}s")


def _on_parent_death(sig: signal.Signals) -> None:
    """Ask Linux to send this process `sig` when its parent dies (elsewhere: nothing)."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, sig)


def _stop_with_parent() -> None:
    """`make ui` is our parent: should it die without passing SIGTERM on (a shell between us, or a
    SIGKILL), Linux sends us SIGTERM, so everything still shuts down cleanly."""
    _on_parent_death(signal.SIGTERM)
    if os.getppid() == 1:  # the parent was already gone before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _child_setup() -> None:
    """In each child before it starts: default SIGINT/SIGTERM handling (an ignored SIGINT is
    inherited by a backgrounded job), nothing blocked, and SIGINT should we die first."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    _on_parent_death(signal.SIGINT)


def _wait_stopping(proc: subprocess.Popen, stop_asked: list[float]) -> int:
    """Wait for `proc`; once a stop was asked (`stop_asked` gets the time), end its process group
    if it has not exited within STOP_GRACE (SIGTERM), then again (SIGKILL)."""
    escalations = [(STOP_GRACE, signal.SIGTERM), (2 * STOP_GRACE, signal.SIGKILL)]  # (after s, signal)
    while True:
        try:
            return proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        if stop_asked and escalations and time.monotonic() - stop_asked[0] > escalations[0][0]:
            _, sig = escalations.pop(0)
            print(f"dagster dev did not stop: sending {sig.name} to its process group", flush=True)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)


def main() -> int:
    sandbox_port = os.environ.get("OMNI_SANDBOX_PORT", "8765")
    ui_port = os.environ.get("OMNI_UI_PORT", "3000")
    env = {**os.environ, "OMNI_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}"}
    sandbox = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "pipelines.cli", "sandbox", "serve", "--port", sandbox_port],
        env=env,
        preexec_fn=_child_setup,
    )
    dagster = None
    try:
        _wait_for(f"http://127.0.0.1:{sandbox_port}/shopify")
        dagster = subprocess.Popen(  # noqa: S603 - the venv's own dagster, fixed arguments
            # its own process group (same session), so a stalled shutdown can be ended as a whole
            [
                str(Path(sys.executable).parent / "dagster"),
                "dev",
                "-m",
                "pipelines.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                ui_port,
            ],
            env=env,
            preexec_fn=_child_setup,
            process_group=0,
        )
        print(
            f"Dagster UI: http://127.0.0.1:{ui_port}  (sandbox at {env['OMNI_SANDBOX_URL']}); "
            "Ctrl-C stops both",
            flush=True,
        )

        stop_asked: list[float] = []

        def forward(signum: int, _frame: FrameType | None) -> None:
            if dagster and dagster.poll() is None:
                dagster.send_signal(signal.SIGINT)
                stop_asked.append(time.monotonic())

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        _stop_with_parent()
        return _wait_stopping(dagster, stop_asked)
    finally:
        for proc in (dagster, sandbox):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    sys.exit(main())
