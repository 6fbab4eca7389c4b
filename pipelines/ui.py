"""`make ui`: the sandbox plus `dagster dev` on 127.0.0.1, stopped cleanly by Ctrl-C or SIGTERM.

A backgrounded `dagster dev` inherits an ignored SIGINT, and Dagster maps SIGTERM onto the same
handler, so it would ignore both (stack notes §2.4). We start it with SIGINT restored and forward
our own SIGINT/SIGTERM to it, then stop the sandbox we started, by its PID.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType


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


def _stop_with_parent() -> None:
    """`make ui` is our parent, and make does not pass SIGTERM on to its recipe: ask Linux to send
    us SIGTERM when the parent dies, so `kill <make pid>` still shuts everything down cleanly."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the parent was already gone before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    sandbox_port = os.environ.get("OMNI_SANDBOX_PORT", "8765")
    ui_port = os.environ.get("OMNI_UI_PORT", "3000")
    env = {**os.environ, "OMNI_SANDBOX_URL": f"http://127.0.0.1:{sandbox_port}"}
    restore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    sandbox = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "pipelines.cli", "sandbox", "serve", "--port", sandbox_port],
        env=env,
        preexec_fn=restore_sigint,
    )
    dagster = None
    try:
        _wait_for(f"http://127.0.0.1:{sandbox_port}/shopify")
        dagster = subprocess.Popen(  # noqa: S603 - the venv's own dagster, fixed arguments
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
            preexec_fn=restore_sigint,
        )
        print(
            f"Dagster UI: http://127.0.0.1:{ui_port}  (sandbox at {env['OMNI_SANDBOX_URL']}); "
            "Ctrl-C stops both",
            flush=True,
        )

        def forward(signum: int, _frame: FrameType | None) -> None:
            if dagster and dagster.poll() is None:
                dagster.send_signal(signal.SIGINT)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        _stop_with_parent()
        return dagster.wait()
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
