"""The landing record shape every connector returns, one Arrow table per page.

Landing keeps a few extracted key columns plus the platform's full record as JSON (PII already
scrubbed), so staging can be rebuilt from landing at any time and new platform fields are never
lost. Pages are Arrow tables from the start: nothing downstream walks Python row dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

LANDING_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),  # platform id as text (ids exceed 2^53)
        pa.field("modified_at", pa.timestamp("us", tz="UTC"), nullable=False),  # the incremental cursor
        pa.field("status", pa.string()),  # the platform's own status, where the entity has one
        pa.field("record", pa.string(), nullable=False),  # the full record as JSON, PII scrubbed
        pa.field("extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def dumps_record(record: Any) -> str:
    """JSON text of a record; big integers stay exact (orjson writes int64 as digits)."""
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS).decode("utf-8")


def landing_page(
    record_ids: Sequence[str],
    modified_at: Sequence[datetime],
    statuses: Sequence[str | None],
    records_json: Sequence[str],
    extracted_at: datetime,
) -> pa.Table:
    n = len(record_ids)
    if not (len(modified_at) == len(statuses) == len(records_json) == n):
        raise ValueError("landing_page: columns of different lengths")
    return pa.Table.from_arrays(
        [
            pa.array(record_ids, pa.string()),
            pa.array(modified_at, pa.timestamp("us", tz="UTC")),
            pa.array(statuses, pa.string()),
            pa.array(records_json, pa.string()),
            pa.array([extracted_at] * n, pa.timestamp("us", tz="UTC")),
        ],
        schema=LANDING_SCHEMA,
    )


def decimals_as_text(value: Any) -> Any:
    """Every Decimal (a yuan amount) as its exact text, nested lists and objects included."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: decimals_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decimals_as_text(v) for v in value]
    return value
