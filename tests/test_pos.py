"""POS connector against real databases: SQLite, and the PostgreSQL and MariaDB servers on this
machine (each test session gets its own throw-away database)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors.common.errors import ConnectorError
from connectors.common.timeutil import china_date, china_days_window
from connectors.config import ShopConfig
from connectors.pos.source import PosSource
from connectors.sandbox.pos_db import write_pos_database
from connectors.sandbox.truth import truth_orders
from tests.conftest import TEST_WORLD, requires_server

SERVERS = {
    "postgresql": (
        "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        "postgresql+psycopg2://postgres@127.0.0.1:5432/{db}",
    ),
    "mariadb": (
        "mysql+pymysql://root@127.0.0.1:3306/mysql",
        "mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4",
    ),
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def pos_url(request, tmp_path_factory) -> Iterator[str]:
    """A POS database filled with the test world, on each kind of server."""
    world = TEST_WORLD.world()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pos') / 'pos.sqlite'}"
        write_pos_database(world, url)
        yield url
        return
    admin_url, template = SERVERS[request.param]
    name = f"omni_pos_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            suffix = " character set utf8mb4" if request.param == "mariadb" else ""
            conn.execute(sa.text(f"create database {name}{suffix}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        requires_server(request.param)(str(exc.orig).splitlines()[0])
    url = template.format(db=name)
    try:
        write_pos_database(world, url)
        yield url
    finally:
        with admin.connect() as conn:
            if request.param == "postgresql":
                conn.execute(sa.text(f"drop database if exists {name} with (force)"))
            else:
                conn.execute(sa.text(f"drop database if exists {name}"))
        admin.dispose()


def source(url: str, pii, **options) -> PosSource:
    return PosSource(ShopConfig("pos", "pos-main", {"database_url": url, **options}), pii)


def pull(src: PosSource, entity: str, start, end) -> pa.Table:
    pages = list(src.pull(entity, start, end))
    return pa.concat_tables(pages) if pages else pa.table({"record_id": pa.array([], pa.string())})


def test_sales_equal_the_truth(pos_url, pii):
    world = TEST_WORLD.world()
    table = pull(source(pos_url, pii, batch_size=7), "orders", *china_days_window(world.start, world.end))
    truth = truth_orders(world)
    truth = truth[truth["channel"] == "pos"].set_index("order_id")
    assert sorted(table.column("record_id").to_pylist()) == sorted(truth.index), (
        "every sale once, across batches"
    )
    for record in map(json.loads, table.column("record").to_pylist()):
        expected = truth.loc[record["sale_id"]]
        assert Decimal(record["paid_fen"]) / 100 == expected["paid_cny"]
        assert Decimal(record["refunded_fen"]) / 100 == expected["refunded_cny"]
        assert Decimal(record["total_fen"]) / 100 == expected["gmv_cny"]
        assert china_date(datetime.fromisoformat(record["sold_at"])) == expected["created_date"]
        assert record["lines"] and sum(line["amount_fen"] for line in record["lines"]) == record["total_fen"]
        assert record["store_id"] == expected["store_id"]


def test_adjacent_windows_split_the_sales_without_overlap(pos_url, pii):
    world = TEST_WORLD.world()
    start, end = china_days_window(world.start, world.end)
    middle = start + timedelta(days=5)  # a China midnight
    whole = set(pull(source(pos_url, pii), "orders", start, end).column("record_id").to_pylist())
    first = set(pull(source(pos_url, pii), "orders", start, middle).column("record_id").to_pylist())
    second = set(pull(source(pos_url, pii), "orders", middle, end).column("record_id").to_pylist())
    assert first and second
    assert first | second == whole and not first & second


def test_an_empty_window_yields_nothing(pos_url, pii):
    world = TEST_WORLD.world()
    start, _ = china_days_window(world.start, world.end)
    assert pull(source(pos_url, pii), "orders", start - timedelta(days=10), start).num_rows == 0


def test_members_arrive_hashed(pos_url, pii):
    world = TEST_WORLD.world()
    table = pull(source(pos_url, pii), "customers", *china_days_window(world.start, world.end))
    assert set(table.column("record_id").to_pylist()) == {a.account_id for a in world.accounts_for("pos")}
    blob = "\n".join(table.column("record").to_pylist())
    for person in world.people:
        assert person.phone not in blob
    record = json.loads(table.column("record")[0].as_py())
    person = world.people_by_id[
        next(a.person_id for a in world.accounts_for("pos") if a.account_id == record["member_id"])
    ]
    assert record["phone_hash"] == pii.phone(person.phone)
    assert record["phone_masked"] == f"{person.phone[:3]}****{person.phone[-4:]}"


def test_a_bad_database_url_names_the_option_and_hides_the_password(pii):
    with pytest.raises(ConnectorError, match="database_url") as error:
        list(
            source("postgresql+psycopg2://reader:s3cret@127.0.0.1:1/pos", pii).pull(
                "orders", *china_days_window(TEST_WORLD.start, TEST_WORLD.end)
            )
        )
    assert "s3cret" not in str(error.value) and "pos/pos-main" in str(error.value)
    with pytest.raises(ConnectorError, match="database_url"):
        source("not a url", pii)


def test_a_missing_table_is_named(tmp_path, pii):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(ConnectorError, match="table 'sales' does not exist"):
        list(source(url, pii).pull("orders", *china_days_window(TEST_WORLD.start, TEST_WORLD.end)))
