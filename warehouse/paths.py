"""Where things live under the data directory (OMNI_DATA_DIR)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
    def published_db(self) -> Path:
        """What analysts open: replaced atomically after each successful build."""
        return self.data_dir / "analytics.duckdb"

    @property
    def sandbox_dir(self) -> Path:
        return self.data_dir / "sandbox"
