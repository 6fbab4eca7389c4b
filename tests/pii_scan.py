"""Scan everything a run wrote for the sandbox's secrets and its people's plain PII.

Every file under the data directory is read the way its bytes would be read by someone holding
it: DuckDB files and Parquet files through their readers (their strings are compressed, so a raw
byte search would miss them), everything else (JSON landing pages, Dagster's SQLite storage and
logs, export drops) as text. The sandbox's own POS database is skipped: it is the simulated store
system, which keeps plain phones by design; what our pipeline writes is everything else.

Needles: every sandbox secret and token, the PII hashing key, and each person's phone numbers,
email, address and name (names of three characters or more: shorter ones occur inside ordinary
words), and the 1688 businesses' contact phones, names and addresses. Phones are matched as whole
numbers (not inside a longer run of digits: order ids hold every 11-digit window by chance).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.sandbox import credentials
from connectors.sandbox.catalog import SHOPS
from connectors.sandbox.world import World

SANDBOX_SOURCE_SYSTEMS = ("pos.sqlite",)  # simulated source systems under <data>/sandbox

_PHONE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ADDRESS = re.compile(r"[\u4e00-\u9fff]+市\d+号\d+栋\d+室")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{3,}")


@dataclass
class Needles:
    secrets: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    addresses: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def count(self) -> int:
        return sum(len(s) for s in (self.secrets, self.phones, self.emails, self.addresses, self.names))


def needles(world: World, pii_key: str) -> Needles:
    out = Needles()
    out.secrets |= {
        str(value)
        for name, value in vars(credentials).items()
        if name.isupper() and ("SECRET" in name or "TOKEN" in name)
    }
    for shop in SHOPS:
        for make in (
            credentials.shopify_token,
            credentials.top_session,
            credentials.marketplace_token,
            credentials.simba_subway_token,
        ):
            out.secrets.add(make(shop.shop_id))
    out.secrets.add(pii_key)
    for person in world.people:
        out.phones |= {p for p in (person.phone, person.later_phone) if p}
        if person.email:
            out.emails.add(person.email)
        out.addresses.add(person.address)
        if len(person.name) >= 3:
            out.names.add(person.name)
    for business in world.businesses:
        out.phones.add(business.contact_phone)
        out.addresses.add(business.address)
        if len(business.contact_name) >= 3:
            out.names.add(business.contact_name)
    return out


def _duckdb_texts(path: Path) -> Iterator[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = conn.execute(
            "select schema_name, table_name from duckdb_tables() where not temporary"
        ).fetchall()
        for schema, table in tables:
            columns = conn.execute(
                "select column_name from duckdb_columns() where schema_name = ? and table_name = ?",
                [schema, table],
            ).fetchall()
            casts = ", ".join(f'cast("{c}" as varchar)' for (c,) in columns)
            rows = conn.execute(f'select {casts} from "{schema}"."{table}"').fetchall()
            yield f"{path}:{schema}.{table}", "\n".join("\t".join(v or "" for v in row) for row in rows)


def _parquet_text(path: Path) -> str:
    table = pq.read_table(path)
    parts = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            parts.extend(v for v in column.to_pylist() if v)
        else:
            parts.extend(str(v) for v in column.to_pylist() if v is not None)
    return "\n".join(parts)


def texts(root: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every file under `root` but the sandbox's source systems."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.parent.name == "sandbox" and path.name in SANDBOX_SOURCE_SYSTEMS:
            continue
        if path.suffix == ".duckdb":
            yield from _duckdb_texts(path)
        elif path.suffix == ".parquet":
            yield str(path), _parquet_text(path)
        else:
            yield str(path), path.read_bytes().decode("utf-8", errors="replace")


def findings(where: str, text: str, found: Needles) -> list[str]:
    hits = [f"{where}: secret {s[:4]}…" for s in found.secrets if s in text]
    hits += [f"{where}: phone {p[:3]}…" for p in set(_PHONE.findall(text)) & found.phones]
    hits += [f"{where}: email {e[:4]}…" for e in set(_EMAIL.findall(text)) & found.emails]
    hits += [f"{where}: address {a[:3]}…" for a in set(_ADDRESS.findall(text)) & found.addresses]
    grams = {
        run[i : i + n] for run in _CJK_RUN.findall(text) for n in (3, 4) for i in range(len(run) - n + 1)
    }
    hits += [f"{where}: name {n[:1]}…" for n in grams & found.names]
    return hits


def scan(root: Path, found: Needles, extra: dict[str, str] | None = None) -> tuple[list[str], int]:
    """Every finding under `root` (and in `extra` texts, e.g. a process's output), and how many
    texts were read."""
    hits: list[str] = []
    read = 0
    for where, text in [*texts(root), *(extra or {}).items()]:
        read += 1
        hits += findings(where, text, found)
    return hits, read
