"""POS connector against real databases: SQLite, and the PostgreSQL and MariaDB servers on this
machine (each test session gets its own throw-away database): sales, members, and the stores'
door-counter footfall (the pos_footfall traffic source)."""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors.common.errors import ConnectorError
from connectors.common.timeutil import CHINA_TZ, china_date, china_day_start, china_days_window
from connectors.config import ShopConfig, TrafficConfig
from connectors.pos.schema import footfall, sales
from connectors.pos.source import PosSource
from connectors.registry import TRAFFIC_ENTITY, TRAFFIC_SOURCES
from connectors.sandbox.catalog import STORES
from connectors.sandbox.pos_db import write_pos_database
from connectors.sandbox.truth import truth_orders, truth_traffic
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
WINDOW = china_days_window(TEST_WORLD.start, TEST_WORLD.end)
POS_STATUS = {"completed": "COMPLETED", "refunded": "RETURNED", "partially_refunded": "PART_RETURNED"}


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


@pytest.fixture
def make_source(pii) -> Iterator[Callable[..., PosSource]]:
    """PosSource for a URL; every one made is closed (its engine disposed) after the test."""
    made: list[PosSource] = []

    def make(url: str, traffic: bool = False, **options) -> PosSource:
        """The sales connector, or (traffic=True) the pos_footfall traffic source built by the registry."""
        options = {"database_url": url, **options}
        if traffic:
            entry = TrafficConfig("pos", "pos-main", options, source="pos_footfall")
            source = TRAFFIC_SOURCES["pos_footfall"].build(entry, pii)
            assert isinstance(source, PosSource)
            made.append(source)
        else:
            made.append(PosSource(ShopConfig("pos", "pos-main", options), pii))
        return made[-1]

    yield make
    for src in made:
        src.close()


def pull(src: PosSource, entity: str, start: datetime, end: datetime) -> pa.Table:
    pages = list(src.pull(entity, start, end))
    return pa.concat_tables(pages) if pages else pa.table({"record_id": pa.array([], pa.string())})


def ids(table: pa.Table) -> list[str]:
    return table.column("record_id").to_pylist()


def test_sales_equal_the_truth(pos_url, make_source):
    table = pull(make_source(pos_url), "orders", *WINDOW)
    truth = truth_orders(TEST_WORLD.world())
    truth = truth[truth["channel"] == "pos"].set_index("order_id")
    assert sorted(ids(table)) == sorted(truth.index), "every sale once"
    for status, record in zip(
        table.column("status").to_pylist(), map(json.loads, table.column("record").to_pylist()), strict=True
    ):
        expected = truth.loc[record["sale_id"]]
        assert Decimal(record["paid_fen"]) / 100 == expected["paid_cny"]
        assert Decimal(record["refunded_fen"]) / 100 == expected["refunded_cny"]
        assert Decimal(record["total_fen"]) / 100 == expected["gmv_cny"]
        assert china_date(datetime.fromisoformat(record["sold_at"])) == expected["created_date"]
        assert record["store_id"] == expected["store_id"]
        assert record["member_id"] == expected["account_id"]
        assert status == record["status"] == POS_STATUS[expected["status"]]
        assert record["sold_at"].endswith("+08:00") and record["updated_at"].endswith("+08:00")


def test_small_batches_give_every_sale_once_with_its_lines(pos_url, make_source):
    world = TEST_WORLD.world()
    orders = {o.order_id: o for o in world.orders_for("pos-main")}
    pages = list(make_source(pos_url, batch_size=7).pull("orders", *WINDOW))
    table = pa.concat_tables(pages)
    assert len(pages) == math.ceil(len(orders) / 7) and all(p.num_rows <= 7 for p in pages)
    assert sorted(ids(table)) == sorted(orders), "every sale once, across batches"
    modified = table.column("modified_at").to_pylist()
    assert modified == sorted(modified), "pages follow updated_at"
    records = map(json.loads, table.column("record").to_pylist())
    for modified_at, record in zip(modified, records, strict=True):
        order = orders[record["sale_id"]]
        state = order.state(world.as_of)
        assert state is not None and modified_at == state.modified_at
        landed = [
            (x["line_no"], x["sku"], x["quantity"], x["amount_fen"], x["returned"]) for x in record["lines"]
        ]
        assert landed == [
            (i + 1, line.sku, line.quantity, line.amount_fen, i in state.refunded_lines)
            for i, line in enumerate(order.lines)
        ]


def test_a_sale_updated_at_a_china_midnight_lands_in_the_later_day_only(pos_url, make_source):
    start, end = WINDOW
    middle = start + timedelta(days=5)  # a China midnight, as UTC
    midnight = middle.astimezone(CHINA_TZ).replace(tzinfo=None)  # as the POS stores it
    engine = sa.create_engine(pos_url)
    with engine.connect() as conn:
        (at_midnight, was_a), (just_before, was_b) = conn.execute(
            sa.select(sales.c.sale_id, sales.c.updated_at).order_by(sales.c.sale_id).limit(2)
        ).all()
    moves = {at_midnight: (midnight, was_a), just_before: (midnight - timedelta(seconds=1), was_b)}
    try:
        with engine.begin() as conn:
            for sale_id, (moved, _) in moves.items():
                conn.execute(sa.update(sales).where(sales.c.sale_id == sale_id).values(updated_at=moved))
        whole = pull(make_source(pos_url), "orders", start, end)
        first = set(ids(pull(make_source(pos_url), "orders", start, middle)))
        second = pull(make_source(pos_url), "orders", middle, end)
        later = set(ids(second))
    finally:
        with engine.begin() as conn:
            for sale_id, (_, was) in moves.items():
                conn.execute(sa.update(sales).where(sales.c.sale_id == sale_id).values(updated_at=was))
        engine.dispose()
    assert at_midnight in later and at_midnight not in first
    assert just_before in first and just_before not in later
    assert first and later and first | later == set(ids(whole)) and not first & later
    assert second.column("modified_at")[ids(second).index(at_midnight)].as_py() == middle


def test_an_empty_window_yields_nothing(pos_url, make_source):
    start, _ = WINDOW
    assert list(make_source(pos_url).pull("orders", start - timedelta(days=10), start)) == []


def test_members_equal_the_worlds_pos_accounts_hashed(pos_url, make_source, pii):
    world = TEST_WORLD.world()
    accounts = {a.account_id: a for a in world.accounts_for("pos") if a.created_at < world.as_of}
    table = pull(make_source(pos_url), "customers", *WINDOW)
    assert sorted(ids(table)) == sorted(accounts)
    blob = "\n".join(table.column("record").to_pylist())
    for person in world.people:
        assert person.phone not in blob and person.name not in blob
    for record in map(json.loads, table.column("record").to_pylist()):
        account = accounts[record["member_id"]]
        person = world.people_by_id[account.person_id]
        assert record["phone_hash"] == pii.phone(person.phone)
        assert record["phone_masked"] == f"{person.phone[:3]}****{person.phone[-4:]}"
        assert record["name_hash"] == pii.text(person.name, "name")
        assert datetime.fromisoformat(record["joined_at"]) == account.created_at
        assert not {"phone", "name"} & record.keys()
        expected = sorted(
            (b.channel, b.account_id, b.bound_at)
            for b in world.member_bindings
            if b.member_id == record["member_id"] and b.bound_at < world.as_of
        )
        landed = sorted(
            (b["channel"], b["account_id"], datetime.fromisoformat(b["bound_at"])) for b in record["bindings"]
        )
        assert landed == expected
        if expected:  # the member's record changed when it was last bound
            assert datetime.fromisoformat(record["updated_at"]) == max(
                account.created_at, *(at for _, _, at in expected)
            )
    assert any(json.loads(r)["bindings"] for r in table.column("record").to_pylist())


def test_a_pos_without_member_bindings_gives_members_without_bindings(tmp_path, make_source):
    url = f"sqlite:///{tmp_path / 'pos.sqlite'}"
    write_pos_database(TEST_WORLD.world(), url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("drop table member_bindings"))
    engine.dispose()
    records = [
        json.loads(r) for r in pull(make_source(url), "customers", *WINDOW).column("record").to_pylist()
    ]
    assert records and all(r["bindings"] == [] for r in records)


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg2://reader:s3cret@127.0.0.1:1/pos", "mysql+pymysql://reader:s3cret@127.0.0.1:1/pos"],
)
def test_an_unreachable_database_names_the_option_and_hides_the_password(url, make_source):
    with pytest.raises(ConnectorError, match="database_url") as error:
        list(make_source(url).pull("orders", *WINDOW))
    assert "s3cret" not in str(error.value) and "[pos/pos-main]" in str(error.value)
    assert "reader:***@127.0.0.1:1/pos" in str(error.value)


@pytest.mark.parametrize(
    "url", ["not a url", "postgresql+psycopg2://reader:s3cret@127.0.0.1:port/pos", "nosuchdb://x"]
)
def test_an_unusable_database_url_names_the_option(url, make_source):
    with pytest.raises(ConnectorError, match="database_url") as error:
        make_source(url)
    assert "s3cret" not in str(error.value)


def test_a_missing_sqlite_file_is_named_not_created(tmp_path, make_source):
    path = tmp_path / "typo.sqlite"
    with pytest.raises(ConnectorError, match=f"database_url .*no SQLite file at {path}"):
        list(make_source(f"sqlite:///{path}").pull("orders", *WINDOW))
    assert not path.exists()


def test_a_missing_table_is_named(tmp_path, make_source):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table stores (store_id text)"))
    engine.dispose()
    with pytest.raises(ConnectorError, match="table 'sales' does not exist"):
        list(make_source(url).pull("orders", *WINDOW))
    with pytest.raises(ConnectorError, match="table 'members' does not exist"):
        list(make_source(url).pull("customers", *WINDOW))


def test_a_table_not_matching_the_contract_fails_as_a_connector_error(tmp_path, make_source):
    url = f"sqlite:///{tmp_path / 'drift.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("create table sales (sale_id text primary key, updated_at timestamp)"))
        conn.execute(sa.text("create table sale_lines (sale_id text, line_no integer)"))
    engine.dispose()
    with pytest.raises(ConnectorError, match=r"reading 'sales' and 'sale_lines' .* failed: no such column"):
        list(make_source(url).pull("orders", *WINDOW))


def test_writing_the_pos_database_twice_gives_the_same_rows(tmp_path):
    world = TEST_WORLD.world()
    url = f"sqlite:///{tmp_path / 'pos.sqlite'}"
    earlier = world.as_of - timedelta(days=3)
    assert write_pos_database(world, url, as_of=earlier)["sales"] < write_pos_database(world, url)["sales"]
    counts = write_pos_database(world, url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        for table, expected in counts.items():
            assert conn.execute(sa.text(f"select count(*) from {table}")).scalar() == expected
    engine.dispose()
    assert counts["sales"] == len(world.orders_for("pos-main")) and counts["sale_lines"] > counts["sales"]


# --- footfall (traffic source pos_footfall) ---------------------------------------------------------


def footfall_records(table: pa.Table) -> dict[str, dict]:
    return dict(zip(ids(table), map(json.loads, table.column("record").to_pylist()), strict=True))


def test_footfall_equals_the_truth(pos_url, make_source):
    world = TEST_WORLD.world()
    src = make_source(pos_url, traffic=True)
    table = pull(src, TRAFFIC_ENTITY, *WINDOW)
    records = footfall_records(table)
    assert len(records) == table.num_rows, "record ids are unique"
    counters = {(f.store_id, f.day): f for f in world.traffic.footfall}
    days = sorted({day for _, day in counters})
    assert len(days) == (world.end - world.start).days + 1 and len({s for s, _ in counters}) == len(STORES)
    assert set(records) == {f"by_store|{d.isoformat()}|{s}" for s, d in counters} | {
        f"day_total|{d.isoformat()}" for d in days
    }
    # Transactions are the POS sales of that store and China day, as the sales pull shows them.
    orders = truth_orders(world)
    sold = Counter(orders[orders["channel"] == "pos"][["store_id", "created_date"]].itertuples(index=False))
    for (store_id, day), counter in counters.items():
        record = records[f"by_store|{day.isoformat()}|{store_id}"]
        assert record["report"] == "by_store" and record["report_date"] == day.isoformat()
        assert (record["source"], record["medium"], record["campaign"]) == (store_id, "store", None)
        assert (record["visitors"], record["paying_buyers"]) == (counter.entries, counter.transactions)
        assert record["paying_buyers"] == sold[(store_id, day)] <= record["visitors"]
        assert record["conversion_definition"] == "成交笔数 / 进店人数 (door counters)"
        assert record["time_zone"] == "Asia/Shanghai" and record["sessions"] is None
        assert record["platform"] == {
            "store_id": store_id,
            "business_date": day.isoformat(),
            "entries": counter.entries,
            "transactions": counter.transactions,
            "updated_at": datetime.combine(day + timedelta(days=1), time(0, 30), CHINA_TZ).isoformat(),
        }
    truth = truth_traffic(world, set(), set(), {"pos-main"})
    truth = truth[truth["shop_id"] == "pos-main"].set_index("traffic_date")
    assert sorted(truth.index) == days
    for day in days:
        record = records[f"day_total|{day.isoformat()}"]
        assert (record["source"], record["medium"]) == (None, None)
        assert record["visitors"] == truth.loc[day, "visitors"]
        assert record["paying_buyers"] == truth.loc[day, "paying_buyers"]
        assert record["conversion_definition"] == "成交笔数 / 进店人数 (door counters)"
    assert truth["paying_buyers"].sum() == len(world.orders_for("pos-main"))
    modified = dict(zip(ids(table), table.column("modified_at").to_pylist(), strict=True))
    assert all(
        modified[i] == china_day_start(date.fromisoformat(r["report_date"])) for i, r in records.items()
    )
    assert src.stats.rows == len(records) and src.stats.pages >= 2 and src.stats.requests >= 1


def test_footfall_by_store_records_sum_to_the_day_total_in_small_batches(pos_url, make_source):
    start, _ = WINDOW
    first, last = TEST_WORLD.start + timedelta(days=3), TEST_WORLD.start + timedelta(days=5)
    src = make_source(pos_url, traffic=True, batch_size=4)  # a day's stores split over batches
    pages = list(src.pull(TRAFFIC_ENTITY, *china_days_window(first, last)))
    records = footfall_records(pa.concat_tables(pages))
    assert len(pages) == math.ceil(3 * len(STORES) / 4) + 1 and src.stats.pages == len(pages)
    totals = {r["report_date"]: r for r in records.values() if r["report"] == "day_total"}
    assert sorted(totals) == [(first + timedelta(days=i)).isoformat() for i in range(3)], (
        "only the asked days"
    )
    for day, total in totals.items():
        stores = [r for r in records.values() if r["report"] == "by_store" and r["report_date"] == day]
        assert len(stores) == len(STORES) == total["platform"]["stores"]
        assert total["visitors"] == sum(r["visitors"] for r in stores) > 0
        assert total["paying_buyers"] == sum(r["paying_buyers"] for r in stores)
    assert list(src.pull(TRAFFIC_ENTITY, start - timedelta(days=10), start)) == [], "no counts, no report"
    with pytest.raises(ValueError, match="whole China days"):
        list(src.pull(TRAFFIC_ENTITY, start, start + timedelta(hours=5)))


def test_a_missing_footfall_table_is_named_and_sales_still_pull(tmp_path, make_source):
    world = TEST_WORLD.world()
    url = f"sqlite:///{tmp_path / 'no_counters.sqlite'}"
    write_pos_database(world, url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        footfall.drop(conn)
    engine.dispose()
    with pytest.raises(ConnectorError, match=r"\[pos/pos-main\] table 'footfall' does not exist") as error:
        list(make_source(url, traffic=True).pull(TRAFFIC_ENTITY, *WINDOW))
    assert "pos_footfall" in str(error.value)
    assert len(pull(make_source(url), "orders", *WINDOW)) == len(world.orders_for("pos-main"))


def test_the_pos_database_has_footfall_of_the_days_before_as_of_only(tmp_path):
    world = TEST_WORLD.world()
    url = f"sqlite:///{tmp_path / 'pos.sqlite'}"
    days = (world.end - world.start).days + 1
    assert write_pos_database(world, url)["footfall"] == days * len(STORES)
    counts = write_pos_database(world, url, as_of=world.as_of - timedelta(days=3) + timedelta(hours=20))
    assert counts["footfall"] == (days - 3) * len(STORES)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        last, synced = conn.execute(
            sa.select(sa.func.max(footfall.c.business_date), sa.func.max(footfall.c.updated_at))
        ).one()
    engine.dispose()
    assert last == world.end - timedelta(days=3)
    assert synced == datetime.combine(world.end - timedelta(days=2), time(0, 30))
