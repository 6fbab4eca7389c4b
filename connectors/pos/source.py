"""Store POS connector: sales (with their lines) and loyalty members from the POS database, and
the stores' door-counter footfall as a traffic source (`pos_footfall`).

SQLAlchemy Core with bound parameters only; results are streamed in batches (server-side cursors
where the driver has them), and each batch's lines come in one `IN` query on a second connection
(MySQL's unbuffered cursors allow no other query on their own connection). POS times are naive
China local time: the UTC window is converted to local bounds for the query and every row back
to UTC. Plain phones and names are hashed here, before anything leaves the function. A member
record carries the platform accounts bound to it (会员通 bindings), read the same way as sale lines.

Footfall is a daily report: the rows of the pulled China days (by business_date), one `by_store`
record per store and day, and one `day_total` per day summed over the stores (door-counter entries
are counts, so they add up across stores, unlike unique visitors).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from connectors.common.errors import ConfigError, ConnectorError, FatalError
from connectors.common.http import PullStats
from connectors.common.pii import PiiHasher, mask_phone
from connectors.common.records import dumps_record, landing_page
from connectors.common.reports import CHINA_TIME_ZONE, report_days, report_page, traffic_record
from connectors.common.timeutil import CHINA_TZ, utc_now
from connectors.config import ShopConfig
from connectors.pos.schema import footfall, member_bindings, members, sale_lines, sales

_CONNECT_ATTEMPTS = 3
TRAFFIC = "traffic"  # the entity of a [[traffic]] entry of source pos_footfall
FOOTFALL_CONVERSION = "成交笔数 / 进店人数 (door counters)"
FOOTFALL_MEDIUM = "store"


def to_local(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: pass an aware (UTC) window bound")
    return ts.astimezone(CHINA_TZ).replace(tzinfo=None)


def to_utc(local: datetime) -> datetime:
    return local.replace(tzinfo=CHINA_TZ).astimezone(UTC)


def _iso(local: datetime | None) -> str | None:
    return local.replace(tzinfo=CHINA_TZ).isoformat() if local else None


def _footfall_record(report: str, day: date, platform: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Entries are the visitors and transactions the paying buyers of the store's conversion."""
    return traffic_record(
        report,
        day,
        CHINA_TIME_ZONE,
        platform,
        **values,
        visitors=platform["entries"],
        paying_buyers=platform["transactions"],
        conversion_definition=FOOTFALL_CONVERSION,
    )


class PosSource:
    entities = ("orders", "customers", TRAFFIC)

    def __init__(self, shop: ShopConfig, pii: PiiHasher) -> None:
        self.shop = shop
        self.pii = pii
        self.stats = PullStats()
        self.batch_size = int(shop.option("batch_size", 1000))
        if self.batch_size < 1:
            raise ConfigError(f"shop {shop.channel}/{shop.shop_id}: option 'batch_size' must be at least 1")
        raw_url = str(shop.require("database_url"))
        try:
            url = sa.engine.make_url(raw_url)
        except (sa.exc.ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
            raise self._error(
                FatalError, f"option database_url is not a valid SQLAlchemy URL: {exc}"
            ) from exc
        self.url = url
        self.safe_url = url.render_as_string(hide_password=True)
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
            raise self._error(FatalError, f"cannot use database_url {self.safe_url}: {exc}") from exc

    def _error(self, kind: type[ConnectorError], message: str) -> ConnectorError:
        return kind(self.shop.channel, self.shop.shop_id, message)

    def _reason(self, exc: sa.exc.DBAPIError) -> str:
        """The driver's first line, with the password cut out should a driver ever quote it."""
        lines = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        return reason.replace(self.url.password, "***") if self.url.password else reason

    def _check_sqlite_file(self) -> None:
        """SQLite would create a missing file and then report missing tables: say what is wrong."""
        database = self.url.database
        if self.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return
        if database.startswith("file:") or self.url.query.get("uri"):
            return
        path = Path(database)
        if not path.is_file():
            raise self._error(
                FatalError,
                f"option database_url = {self.safe_url}: no SQLite file at {path.resolve()} "
                f"(a relative path is relative to the working directory, {Path.cwd()})",
            )

    @contextmanager
    def _reading(self, *tables: sa.Table) -> Iterator[None]:
        """A database error while reading (a renamed column, a dropped connection) becomes a
        connector error naming the tables, so the pipeline fails this shop and goes on."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            names = " and ".join(f"'{t.name}'" for t in tables)
            raise self._error(
                ConnectorError,
                f"reading {names} from the POS database {self.safe_url} failed: {self._reason(exc)}",
            ) from exc

    @contextmanager
    def _connection(self) -> Iterator[sa.Connection]:
        self._check_sqlite_file()
        for attempt in range(1, _CONNECT_ATTEMPTS + 1):
            try:
                conn = self.engine.connect()
                break
            except sa.exc.OperationalError as exc:  # the server may be restarting: a short retry
                if attempt == _CONNECT_ATTEMPTS:
                    raise self._error(
                        ConnectorError,
                        f"cannot connect to the POS database (option database_url = {self.safe_url}): "
                        f"{self._reason(exc)}",
                    ) from exc
                self.stats.retries += 1
                time.sleep(attempt)
        try:
            yield conn
        finally:
            conn.close()

    def _require_tables(self, conn: sa.Connection, tables: Sequence[sa.Table], hint: str = "") -> None:
        inspector = sa.inspect(conn)
        for table in tables:
            if not inspector.has_table(table.name):
                raise self._error(
                    FatalError,
                    f"table '{table.name}' does not exist in the POS database {self.safe_url}{hint}",
                )

    def pull(self, entity: str, start: datetime, end: datetime) -> Iterator[pa.Table]:
        if entity == "orders":
            yield from self._sales(to_local(start), to_local(end))
        elif entity == "customers":
            yield from self._members(to_local(start), to_local(end))
        elif entity == TRAFFIC:
            yield from self._footfall(*report_days(start, end))
        else:
            raise ValueError(
                f"the POS connector has no entity '{entity}' (it has {', '.join(self.entities)})"
            )

    def _stream(self, conn: sa.Connection, query: sa.Select) -> Iterator[Sequence[sa.RowMapping]]:
        result = conn.execution_options(stream_results=True, yield_per=self.batch_size).execute(query)
        self.stats.requests += 1
        yield from result.mappings().partitions(self.batch_size)

    def _sales(self, lo: datetime, hi: datetime) -> Iterator[pa.Table]:
        query = (
            sa.select(sales)
            .where(sales.c.updated_at >= lo, sales.c.updated_at < hi)
            .order_by(sales.c.updated_at, sales.c.sale_id)
        )
        lines_query = (
            sa.select(sale_lines)
            .where(sale_lines.c.sale_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(sale_lines.c.sale_id, sale_lines.c.line_no)
        )
        with self._connection() as conn, self._connection() as lines_conn, self._reading(sales, sale_lines):
            self._require_tables(conn, [sales, sale_lines])
            for batch in self._stream(conn, query):
                ids = [row["sale_id"] for row in batch]
                lines: dict[str, list[dict[str, Any]]] = {}
                for line in lines_conn.execute(lines_query, {"ids": ids}).mappings():
                    lines.setdefault(line["sale_id"], []).append(
                        {
                            k: line[k]
                            for k in (
                                "line_no",
                                "sku",
                                "title",
                                "quantity",
                                "unit_price_fen",
                                "discount_fen",
                                "amount_fen",
                            )
                        }
                        | {"returned": bool(line["returned"])}
                    )
                self.stats.requests += 1
                records = [
                    {
                        "sale_id": row["sale_id"],
                        "store_id": row["store_id"],
                        "member_id": row["member_id"],
                        "sold_at": _iso(row["sold_at"]),
                        "status": row["status"],
                        "total_fen": row["total_fen"],
                        "discount_fen": row["discount_fen"],
                        "paid_fen": row["paid_fen"],
                        "refunded_fen": row["refunded_fen"],
                        "refunded_at": _iso(row["refunded_at"]),
                        "cashier_id": row["cashier_id"],
                        "updated_at": _iso(row["updated_at"]),
                        "lines": lines.get(row["sale_id"], []),
                    }
                    for row in batch
                ]
                yield self._page(
                    ids, [to_utc(r["updated_at"]) for r in batch], [r["status"] for r in batch], records
                )

    def _members(self, lo: datetime, hi: datetime) -> Iterator[pa.Table]:
        """Loyalty members, each with the platform accounts bound to it (`bindings`; empty when the
        POS has no `member_bindings` table)."""
        query = (
            sa.select(members)
            .where(members.c.updated_at >= lo, members.c.updated_at < hi)
            .order_by(members.c.updated_at, members.c.member_id)
        )
        bindings_query = (
            sa.select(member_bindings)
            .where(member_bindings.c.member_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(
                member_bindings.c.member_id, member_bindings.c.channel, member_bindings.c.platform_account_id
            )
        )
        with (
            self._connection() as conn,
            self._connection() as bindings_conn,
            self._reading(members, member_bindings),
        ):
            self._require_tables(conn, [members])
            has_bindings = sa.inspect(conn).has_table(member_bindings.name)
            for batch in self._stream(conn, query):
                ids = [row["member_id"] for row in batch]
                bound: dict[str, list[dict[str, Any]]] = {}
                if has_bindings:
                    for row in bindings_conn.execute(bindings_query, {"ids": ids}).mappings():
                        bound.setdefault(row["member_id"], []).append(
                            {
                                "channel": row["channel"],
                                "account_id": row["platform_account_id"],
                                "bound_at": _iso(row["bound_at"]),
                            }
                        )
                    self.stats.requests += 1
                records = [
                    {
                        "member_id": row["member_id"],
                        "phone_hash": self.pii.phone(row["phone"]),
                        "phone_masked": mask_phone(row["phone"]),
                        "name_hash": self.pii.person_name(row["name"]),
                        "home_store_id": row["home_store_id"],
                        "joined_at": _iso(row["joined_at"]),
                        "points": row["points"],
                        "updated_at": _iso(row["updated_at"]),
                        "bindings": bound.get(row["member_id"], []),
                    }
                    for row in batch
                ]
                yield self._page(ids, [to_utc(r["updated_at"]) for r in batch], [None] * len(batch), records)

    def _footfall(self, first: date, last: date) -> Iterator[pa.Table]:
        """Per store and day a `by_store` record, then per day one `day_total` over the stores."""
        query = (
            sa.select(footfall)
            .where(footfall.c.business_date >= first, footfall.c.business_date <= last)
            .order_by(footfall.c.business_date, footfall.c.store_id)
        )
        totals: dict[date, dict[str, int]] = {}
        hint = " (the door counters' table the pos_footfall traffic source reads)"
        with self._connection() as conn, self._reading(footfall):
            self._require_tables(conn, [footfall], hint)
            for batch in self._stream(conn, query):
                rows = []
                for row in batch:
                    day: date = row["business_date"]
                    platform = {
                        "store_id": row["store_id"],
                        "business_date": day.isoformat(),
                        "entries": row["entries"],
                        "transactions": row["transactions"],
                        "updated_at": _iso(row["updated_at"]),
                    }
                    total = totals.setdefault(day, {"stores": 0, "entries": 0, "transactions": 0})
                    total["stores"] += 1
                    total["entries"] += row["entries"]
                    total["transactions"] += row["transactions"]
                    rows.append(
                        (
                            f"by_store|{day.isoformat()}|{row['store_id']}",
                            day,
                            _footfall_record(
                                "by_store", day, platform, source=row["store_id"], medium=FOOTFALL_MEDIUM
                            ),
                        )
                    )
                yield self._report_page(rows)
        if totals:
            yield self._report_page(
                [
                    (
                        f"day_total|{day.isoformat()}",
                        day,
                        # no platform row: the day total is the stores' rows summed here
                        _footfall_record("day_total", day, {"business_date": day.isoformat(), **total}),
                    )
                    for day, total in sorted(totals.items())
                ]
            )

    def _report_page(self, rows: list[tuple[str, date, dict[str, Any]]]) -> pa.Table:
        self.stats.pages += 1
        self.stats.rows += len(rows)
        return report_page(rows, utc_now())

    def _page(
        self,
        ids: list[str],
        modified: list[datetime],
        statuses: list[str | None],
        records: list[dict[str, Any]],
    ) -> pa.Table:
        self.stats.pages += 1
        self.stats.rows += len(records)
        return landing_page(ids, modified, statuses, [dumps_record(r) for r in records], utc_now())

    def close(self) -> None:
        self.engine.dispose()
