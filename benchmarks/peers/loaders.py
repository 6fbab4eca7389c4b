"""The loaders, each written once over what a platform supplies (base.Platform).

Each runs in a fresh child process: `loader(platform, ctx)` imports and sets up, then returns the
timed part, which lands the window and returns the rows landed. The peers (everything but our
connector) share the platform's request loop, so they send the same requests and differ only in
what they do with the bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.peers.base import Ctx, Platform, days, window

Loader = Callable[[Platform, Ctx], Callable[[], int]]
FLOOR = "download + DuckDB read_json → Parquet"


def _download_only(platform: Platform, ctx: Ctx) -> Callable[[], int]:
    import requests  # noqa: F401 - imported before the clock starts

    def run() -> int:
        # records counted by a byte search for a marker each holds once (no parse): the bytes are discarded
        return sum(response.content.count(platform.record_mark) for response in platform.pages(ctx))

    return run


def _read_json_floor(platform: Platform, ctx: Ctx) -> Callable[[], int]:
    import duckdb
    import requests  # noqa: F401

    pages, out = ctx.tmp / "pages", ctx.tmp / "records.parquet"

    def run() -> int:
        pages.mkdir()
        for i, response in enumerate(platform.pages(ctx)):
            (pages / f"{i:06d}.json").write_bytes(response.content)
        con = duckdb.connect()
        con.execute(
            f"COPY (SELECT unnest(r) FROM (SELECT unnest({platform.records_path}) AS r FROM "
            f"read_json('{pages}/*.json', format = 'auto'))) TO '{out}' (FORMAT parquet)"
        )
        rows = con.execute(f"SELECT count(*) FROM '{out}'").fetchone()
        con.close()
        return int(rows[0]) if rows else 0

    return run


def _our_connector(platform: Platform, ctx: Ctx) -> Callable[[], int]:
    import pandas  # noqa: F401 - pyarrow imports it on the first page it builds; before the clock

    from connectors.common.pii import PiiHasher
    from connectors.common.timeutil import utc_now
    from connectors.registry import CHANNELS
    from warehouse.landing import LandingWriter

    shop = platform.connector_shop(ctx)
    # built before the clock, as the other loaders import and set up before it (building imports
    # the connector's modules; the pull has not begun)
    source = CHANNELS[shop.channel].build(shop, PiiHasher("peers-benchmark-pii-key"))
    first_day, last_day = days()
    start, end = window()

    def run() -> int:
        result = LandingWriter(ctx.tmp / "landing").land(
            shop.channel,
            "orders",
            shop.shop_id,
            first_day,
            last_day,
            source.pull("orders", start, end),
            utc_now(),
        )
        source.close()
        if result.rows_outside_window:
            raise SystemExit(f"{result.rows_outside_window} rows landed outside the window")
        return result.rows

    return run


def _requests_pandas(platform: Platform, ctx: Ctx) -> Callable[[], int]:
    import pandas as pd
    import pyarrow.parquet as pq

    out = ctx.tmp / "records.parquet"

    def run() -> int:
        frames = [pd.json_normalize(platform.records(response.json())) for response in platform.pages(ctx)]
        pd.concat(frames, ignore_index=True).to_parquet(out, index=False)
        return int(pq.ParquetFile(out).metadata.num_rows)

    return run


def _dlt_pipeline(platform: Platform, ctx: Ctx) -> Any:
    import dlt

    return dlt.pipeline(
        pipeline_name="peers_bench",
        destination=dlt.destinations.duckdb(str(ctx.tmp / "dlt.duckdb")),
        dataset_name=platform.name,
        pipelines_dir=str(ctx.tmp / "dlt_pipelines"),
    )


def _dlt_count(platform: Platform, ctx: Ctx) -> int:
    import duckdb

    con = duckdb.connect(str(ctx.tmp / "dlt.duckdb"), read_only=True)
    rows = con.execute(f"SELECT count(*) FROM {platform.name}.{platform.table}").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


def _dlt_rest_api(max_table_nesting: int | None) -> Loader:
    def loader(platform: Platform, ctx: Ctx) -> Callable[[], int]:
        import dlt  # noqa: F401
        from dlt.sources.rest_api import rest_api_source

        config: Any = platform.rest_api_config(ctx)  # rest_api's TypedDict, as a plain dict

        def run() -> int:
            source = rest_api_source(config, name=platform.name, max_table_nesting=max_table_nesting)
            _dlt_pipeline(platform, ctx).run(source)
            return _dlt_count(platform, ctx)

        return run

    return loader


def _dlt_arrow(platform: Platform, ctx: Ctx) -> Callable[[], int]:
    import dlt
    import orjson

    @dlt.resource(name=platform.table, write_disposition="append")
    def records() -> Any:
        for response in platform.pages(ctx):
            yield platform.arrow_table(platform.records(orjson.loads(response.content)))

    def run() -> int:
        _dlt_pipeline(platform, ctx).run(records())
        return _dlt_count(platform, ctx)

    return run


def loaders(platform: Platform) -> dict[str, Loader]:
    """Every loader by the name the results give it, in the order they run."""
    return {
        "download only": _download_only,
        FLOOR: _read_json_floor,
        f"our connector ({platform.label} → landing Parquet, PII hashed)": _our_connector,
        "requests + pandas json_normalize → Parquet": _requests_pandas,
        "dlt rest_api (defaults) → DuckDB": _dlt_rest_api(None),
        "dlt rest_api max_table_nesting=0 → DuckDB": _dlt_rest_api(0),
        "dlt Arrow (pa.Table per page) → DuckDB": _dlt_arrow,
    }
