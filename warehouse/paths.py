"""Where things live under the data directory (OMNI_DATA_DIR)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


def sweep_stale(leftovers: Iterable[Path], older_than_seconds: float) -> list[Path]:
    """Delete what a killed process left behind (a half-written copy, an unfinished extraction)
    once it is older than any live writer could be; returns what was deleted."""
    cutoff = time.time() - older_than_seconds
    swept = []
    for path in leftovers:
        try:
            if path.lstat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        swept.append(path)
    return swept


@dataclass(frozen=True)
class WarehousePaths:
    data_dir: Path

    @property
    def landing(self) -> Path:
        return self.data_dir / "landing"

    @property
    def build_db(self) -> Path:
        """The pipeline's private working file: only the pipeline opens it, one writer at a time."""
        return self.data_dir / "warehouse" / "build.duckdb"

    @property
    def validated_rows_db(self) -> Path:
        """What each check remembers of the rows its last pass validated (hashes; the build's, not
        published): the next validation takes only rows it has not seen pass."""
        return self.data_dir / "warehouse" / "validated_rows.duckdb"

    @property
    def published_db(self) -> Path:
        """What analysts open: replaced atomically after each successful build."""
        return self.data_dir / "analytics.duckdb"

    @property
    def sandbox_dir(self) -> Path:
        return self.data_dir / "sandbox"
