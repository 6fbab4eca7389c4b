"""The landing zone: immutable Parquet per (channel, entity, shop, China day).

Layout: `<data>/landing/<channel>/<entity>/shop=<shop>/dt=<YYYY-MM-DD>/part-<extracted>-<id>.parquet`.

Each pull of a range of days is one *extraction*. Its rows are routed to one file per day (by the
China date of `modified_at`), written under `landing/_tmp/` and renamed into place only after the
whole pull succeeded, so a day's extraction is whole or absent (a killed pull leaves only its
`_tmp` folder, which a later pull deletes). Days with no rows still get an
empty file: "pulled, nothing changed" is different from "never pulled".

Extractions are appended, never overwritten: platforms serve only ~3 months back, so a re-pull
may return less than the first pull did, and raw history is kept for good. Staging keeps the
latest version of each record, so pulling a day twice never double-counts.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.common.records import LANDING_SCHEMA
from connectors.common.timeutil import CHINA_OFFSET, iter_days
from warehouse.failpoints import failpoint
from warehouse.paths import sweep_stale

_CHINA_OFFSET_US = CHINA_OFFSET // timedelta(microseconds=1)  # fixed since 1991 (timeutil)
_DAY_US = 86_400 * 1_000_000
_EPOCH = date(1970, 1, 1)
# an extraction of a Double 11 day takes well under this; an older `_tmp` folder is a killed run's
STALE_EXTRACTION_SECONDS = 24 * 3600
# Pages are routed and written in batches of about this many bytes: a marketplace page is 100 orders,
# and routing one (a dozen Arrow calls) and writing it as its own row group cost more than its rows
# (measured: this writer took 2,010 pages of TOP's size in 0.47-0.65 s one by one, 0.19-0.36 s in
# batches). A batch costs memory while it is filtered by day and encoded: a 500k-order Shopify day
# peaked at 453 MB page by page, 465 MB at 4 MB, 472 MB at 8 MB (target 500), so 4 MB.
BATCH_BYTES = 4 * 2**20
# Landing files are kept for good (platforms serve ~3 months back), and nearly all of their bytes are
# the records' JSON: zstd at level 1 stores it in a third (Shopify) to a half (TOP) of snappy's size
# (Parquet's default), written in the same time and read by DuckDB no slower (200k Shopify orders:
# 90 MB against 262 MB; benchmarks/results/peers.md).
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1}


@dataclass
class LandingResult:
    rows_by_day: dict[date, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    rows_outside_window: int = 0

    @property
    def rows(self) -> int:
        return sum(self.rows_by_day.values())


def china_day_numbers(modified_at: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Days since 1970-01-01 of each UTC timestamp, in China time, computed in bulk."""
    micros = pc.cast(modified_at, pa.int64())
    return pc.floor(pc.divide(pc.add(micros, _CHINA_OFFSET_US), float(_DAY_US))).cast(pa.int64())


def _batches(pages: Iterable[pa.Table]) -> Iterator[pa.Table]:
    """The pages in the landing schema, gathered into tables of about BATCH_BYTES (the last smaller)."""
    pending: list[pa.Table] = []
    pending_bytes = 0
    for page in pages:
        if page.num_rows == 0:
            continue
        pending.append(page if page.schema.equals(LANDING_SCHEMA) else page.cast(LANDING_SCHEMA))
        pending_bytes += page.nbytes
        if pending_bytes >= BATCH_BYTES:
            yield pa.concat_tables(pending)
            pending, pending_bytes = [], 0
    if pending:
        yield pa.concat_tables(pending)


def partition_dir(root: Path, channel: str, entity: str, shop_id: str, day: date) -> Path:
    return root / channel / entity / f"shop={shop_id}" / f"dt={day.isoformat()}"


class LandingWriter:
    def __init__(self, root: Path) -> None:
        self.root = root

    def land(
        self,
        channel: str,
        entity: str,
        shop_id: str,
        first_day: date,
        last_day: date,
        pages: Iterable[pa.Table],
        extracted_at: datetime,
    ) -> LandingResult:
        """Write one extraction covering China days [first_day, last_day]. Nothing becomes visible
        unless every page was consumed without error."""
        staging_root = self.root / "_tmp"
        staging_root.mkdir(parents=True, exist_ok=True)
        sweep_stale(staging_root.iterdir(), STALE_EXTRACTION_SECONDS)
        tmp = staging_root / uuid.uuid4().hex
        tmp.mkdir()
        writers: dict[date, pq.ParquetWriter] = {}
        result = LandingResult()
        first_n, last_n = (first_day - _EPOCH).days, (last_day - _EPOCH).days
        try:
            for batch in _batches(pages):
                days = china_day_numbers(batch.column("modified_at"))
                inside = pc.and_(pc.greater_equal(days, first_n), pc.less_equal(days, last_n))
                result.rows_outside_window += batch.num_rows - pc.sum(inside.cast(pa.int64())).as_py()
                for day_n in pc.unique(pc.filter(days, inside)).to_pylist():
                    day = _EPOCH + timedelta(days=day_n)
                    rows = batch.filter(pc.equal(days, day_n))
                    if day not in writers:
                        path = tmp / f"{day.isoformat()}.parquet"
                        writers[day] = pq.ParquetWriter(path, LANDING_SCHEMA, **PARQUET_OPTIONS)
                    writers[day].write_table(rows)
                    result.rows_by_day[day] = result.rows_by_day.get(day, 0) + rows.num_rows
            for writer in writers.values():
                writer.close()
            stamp = extracted_at.strftime("%Y%m%dT%H%M%S%fZ")
            suffix = uuid.uuid4().hex[:8]
            for day in iter_days(first_day, last_day):
                source = tmp / f"{day.isoformat()}.parquet"
                if day not in writers:
                    pq.write_table(LANDING_SCHEMA.empty_table(), source, **PARQUET_OPTIONS)
                    result.rows_by_day[day] = 0
                target_dir = partition_dir(self.root, channel, entity, shop_id, day)
                target_dir.mkdir(parents=True, exist_ok=True)
                target = target_dir / f"part-{stamp}-{suffix}.parquet"
                os.replace(source, target)  # atomic on one filesystem: the day appears whole
                result.files.append(target)
                failpoint("landing.day_renamed")
        finally:
            for writer in writers.values():
                if writer.is_open:
                    writer.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return result
