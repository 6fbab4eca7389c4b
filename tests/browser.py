"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright (no
browser download here). Missing locally: the test skips; missing under CI=true: it fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# this machine's network is closed: without these, Chromium keeps trying to reach Google's hosts
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched Playwright browser, closed afterwards."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is required under CI=true (.ci/run installs Debian's chromium)")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artifacts_dir(fallback: Path) -> Path:
    """Where screenshots go: $OMNI_TEST_ARTIFACTS, else beside the test's files."""
    folder = Path(os.environ.get("OMNI_TEST_ARTIFACTS") or fallback / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
