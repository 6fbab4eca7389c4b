"""connectors.common.page_workers: pages worked in spawned processes come back in order, errors
surface at their page, and no process outlives the pull."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from connectors.common.page_workers import in_workers
from connectors.common.pii import PiiHasher

REPO = Path(__file__).resolve().parents[1]


def _tagged(context: str, item: int) -> tuple[str, int, int]:
    return context, item * item, os.getpid()


def _fails_on_seven(context: str, item: int) -> int:
    if item == 7:
        raise KeyError(f"updated_at missing in page {item}")
    return item


def _hash_in_worker(pii: PiiHasher, phone: str) -> str | None:
    return pii.phone(phone)


def test_results_come_back_in_order_from_the_workers_after_the_inline_pages():
    worked = list(in_workers(_tagged, "ctx", range(30), workers=2, inline_pages=3))
    assert [item for item, _ in worked] == list(range(30))
    assert [result[:2] for _, result in worked] == [("ctx", i * i) for i in range(30)]
    pids = [result[2] for _, result in worked]
    assert pids[:3] == [os.getpid()] * 3, "the first pages are worked here"
    assert os.getpid() not in pids[3:] and len(set(pids[3:])) >= 1
    assert not multiprocessing.active_children(), "the workers stop with the pull"


def test_no_workers_and_short_pulls_start_no_process():
    assert {r[2] for _, r in in_workers(_tagged, "", range(10), workers=0, inline_pages=0)} == {os.getpid()}
    short = list(in_workers(_tagged, "", range(4), workers=2, inline_pages=4))
    assert {r[2] for _, r in short} == {os.getpid()} and len(short) == 4


def test_an_error_in_a_worker_is_raised_at_its_page_and_stops_the_workers():
    seen = []
    with pytest.raises(KeyError, match="updated_at missing in page 7"):
        for item, _ in in_workers(_fails_on_seven, "", range(20), workers=2, inline_pages=1):
            seen.append(item)
    assert seen == list(range(7))
    assert not multiprocessing.active_children()


def test_closing_the_pull_early_stops_the_workers():
    worked = in_workers(_tagged, "", range(1000), workers=2, inline_pages=1)
    for _ in range(5):
        next(worked)
    assert len(multiprocessing.active_children()) == 2
    worked.close()
    assert not multiprocessing.active_children()


def _hangs_on_five(context: str, item: int) -> int:
    if item == 5:
        time.sleep(120)  # a platform that does not answer, up to a long read timeout
    return item


def test_closing_the_pull_early_does_not_wait_for_a_page_a_worker_is_stuck_on():
    worked = in_workers(_hangs_on_five, "", range(1000), workers=2, inline_pages=1)
    assert [next(worked)[0] for _ in range(5)] == [0, 1, 2, 3, 4]  # item 5 is now in a worker
    closing = threading.Thread(target=worked.close)
    closing.start()
    closing.join(timeout=20)
    assert not closing.is_alive(), "closing the pull waited for the stuck worker"
    assert not multiprocessing.active_children()


def test_a_worker_hashes_with_the_same_key():
    pii = PiiHasher("the-test-key")
    phones = ["13800138000", "+86 139-0013-9000", "15900001111"]
    worked = dict(in_workers(_hash_in_worker, pii, phones, workers=2, inline_pages=0))
    assert worked == {phone: pii.phone(phone) for phone in phones}
    assert worked["13800138000"] != PiiHasher("another-key").phone("13800138000")


def _dies_in_a_worker(parent_pid: int, item: int) -> tuple[int, int]:
    if item == 6 and os.getpid() != parent_pid:
        os._exit(1)  # as the kernel's OOM killer would end it: no exception, no cleanup
    return item, os.getpid()


def test_when_a_worker_dies_the_rest_is_worked_here_in_order():
    worked = list(in_workers(_dies_in_a_worker, os.getpid(), range(40), workers=2, inline_pages=2))
    assert [item for item, _ in worked] == list(range(40))
    assert [result[0] for _, result in worked] == list(range(40))
    assert worked[6][1][1] == os.getpid(), "the page its worker died on is worked here"
    assert worked[-1][1][1] == os.getpid()
    assert not multiprocessing.active_children()


def test_workers_end_when_the_process_that_started_them_is_killed(tmp_path):
    script = tmp_path / "pull.py"
    script.write_text(
        "import multiprocessing, sys, time\n"
        "from connectors.common.page_workers import in_workers\n"
        "from tests.test_page_workers import _tagged\n"
        "if __name__ == '__main__':\n"
        "    for item, _ in in_workers(_tagged, '', range(10**9), workers=2, inline_pages=0):\n"
        "        if item == 3:\n"
        "            print(*(p.pid for p in multiprocessing.active_children()), flush=True)\n"
        "        time.sleep(0.01)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pull = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert pull.stdout is not None
        workers = [int(pid) for pid in pull.stdout.readline().split()]
    finally:
        pull.kill()  # SIGKILL: no clean-up of its own runs
        pull.wait()
    assert len(workers) == 2

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "a worker outlived the pull that started it"


def test_a_script_without_a_main_guard_runs_once_and_its_pull_uses_the_workers(tmp_path):
    # spawned processes import the parent's main script; a page worker must not, or a script
    # pulling at its top level would pull again in every worker
    runs = tmp_path / "runs.txt"
    script = tmp_path / "pull.py"
    script.write_text(
        "import os\n"
        "from connectors.common.page_workers import in_workers\n"
        "from tests.test_page_workers import _tagged\n"
        f"with open({str(runs)!r}, 'a') as runs:\n"
        "    runs.write(f'{os.getpid()}\\n')\n"
        "worked = list(in_workers(_tagged, 'ctx', range(12), workers=2, inline_pages=2))\n"
        "assert [item for item, _ in worked] == list(range(12))\n"
        "print(len({pid for _, (_, _, pid) in worked[2:]} - {os.getpid()}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(runs.read_text().splitlines()) == 1, "the script ran again in a worker"
    assert int(done.stdout) >= 1, "pages were worked in other processes"
    assert "page workers stopped" not in done.stderr and "bootstrapping" not in done.stderr


def test_a_hasher_is_not_pickled_except_to_start_a_worker():
    with pytest.raises(TypeError, match="its key must not reach a file"):
        pickle.dumps(PiiHasher("the-test-key"))
