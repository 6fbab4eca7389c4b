"""The one resource the assets share: where the data lives, which config file to read, and the
build file's connection for the run.

Both default to the environment (OMNI_DATA_DIR, OMNI_CONFIG) *at run time*, never at import, so
the same definitions serve the sandbox, tests (temporary folders) and real shops.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from connectors.config import PipelineConfig, config_path, data_dir, load_config
from warehouse.buildfile import connect_writer
from warehouse.models import prepare_connection, prepare_cursor
from warehouse.paths import WarehousePaths


class OmniResource(dg.ConfigurableResource):
    data_dir: str = ""  # empty: OMNI_DATA_DIR, else ./data
    config_path: str = ""  # empty: OMNI_CONFIG, else config/sandbox.toml
    # the run's connection to the build file (build_connection), closed at the run's teardown
    _build: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def paths(self) -> WarehousePaths:
        return WarehousePaths(Path(self.data_dir).resolve() if self.data_dir else data_dir())

    def pipeline_config(self) -> PipelineConfig:
        return load_config(Path(self.config_path) if self.config_path else config_path())

    @contextmanager
    def build_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the build file for one step. The file is opened by the run's first step
        that needs it, once no other process is writing it (warehouse/buildfile.py), and kept open
        until the run ends (`teardown_after_execution`); each step gets its own cursor on it, so
        its temp tables and registered frames go with the step. The warehouse job's steps run one
        at a time in one process holding the duckdb_writer slot, and opening the file and
        checkpointing it on close cost ~75 ms a step on the test world's build (89 steps: a third
        of the build's time)."""
        if self._build is None:
            paths = self.paths()
            paths.build_db.parent.mkdir(parents=True, exist_ok=True)
            self._build = connect_writer(paths.build_db, on_wait=dg.get_dagster_logger().info)
            prepare_connection(self._build)
        cursor = self._build.cursor()
        try:
            prepare_cursor(cursor)
            yield cursor
        finally:
            cursor.close()
            # DuckDB keeps the blocks it read cached (up to its memory limit) while the file is open:
            # a step that then pulls millions of rows into pandas (a check) would hold both. Above
            # this, the file is closed and opened again by the next step (10M orders: peak 5.3 GB
            # held open against 3.9 GB with a connection per step; the test world stays far below)
            if _cached_bytes(self._build) > RELEASE_CACHE_ABOVE_BYTES:
                self._close_build()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._close_build()

    def _close_build(self) -> None:
        if self._build is not None:
            self._build.close()  # checkpoints: the file holds everything the run committed
            self._build = None


RELEASE_CACHE_ABOVE_BYTES = 256 * 2**20


def _cached_bytes(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("select sum(memory_usage_bytes) from duckdb_memory()").fetchone()
    return int(row[0] or 0) if row else 0
