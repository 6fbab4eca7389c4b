"""The one resource the assets share: where the data lives and which config file to read.

Both default to the environment (OMNI_DATA_DIR, OMNI_CONFIG) *at run time*, never at import, so
the same definitions serve the sandbox, tests (temporary folders) and real shops.
"""

from pathlib import Path

import dagster as dg

from connectors.config import PipelineConfig, config_path, data_dir, load_config
from warehouse.paths import WarehousePaths


class OmniResource(dg.ConfigurableResource):
    data_dir: str = ""  # empty: OMNI_DATA_DIR, else ./data
    config_path: str = ""  # empty: OMNI_CONFIG, else config/sandbox.toml

    def paths(self) -> WarehousePaths:
        return WarehousePaths(Path(self.data_dir).resolve() if self.data_dir else data_dir())

    def pipeline_config(self) -> PipelineConfig:
        return load_config(Path(self.config_path) if self.config_path else config_path())
