"""Identity resolution: one person, many platform-scoped accounts -> one stable `customer_id`.

Input: a table or view (default `identity_input`) with one row per sighting of an identifier on an
account: `channel, account_id, id_type, id_value, seen_at`. An account is (channel, account_id);
a row with a null `id_type` only declares the account. Values arrive hashed (opaque strings).
A node of the graph is (id_type, id_value): a type that must be scoped (a WeChat openid to its
app) carries its scope in the value upstream; `top_open_uid` is deliberately not scoped by channel
(the same value on tmall and taobao is one Taobao member).

Guards, applied in this order to each identifier value; a value stopped by one is not used for
linking and lands in `core.identity_dropped` with the first reason that applies:

1. `blocked`: null, or (trimmed, lower-cased) one of `IdentityRules.blocked_values`, or fully
   matching one of `blocked_patterns` (all zeros, all mask characters). Test phone numbers arrive
   hashed: add `blocked_phone_hashes(pii)` to `blocked_values`.
2. `weak_only`: a weak type (masked phone, group-buy id, address hash) never creates an edge.
3. `unknown_type`: a type in neither list never links either (precision first: configure it).
4. `over_cap`: a strong value joined by more than `max_accounts_per_identifier` accounts (a
   shop's own phone typed into many orders).
5. `conflict`: a `conflict_checked_types` value (a phone) joining two accounts that both carry
   `conflict_types` evidence (name hashes) and share none of it: two people behind one phone.
   Evidence types never link; they only veto.
6. `platform_limit`: a person holds at most `max_accounts_per_platform` accounts of one channel,
   counted in *override groups*: accounts joined (transitively) by a `platform_override_types`
   identifier (member card, WeChat unionid) count as one. While a component breaks the limit,
   the rule drops, in each such component and per round, one non-override linking identifier:
   the one joining the most accounts of the over-limit channels, then the most accounts, then the
   weakest type (later in `strong_types`), then the smallest (id_type, id_value). The components
   are recomputed after each round (only the offending ones); the drop order is a pure function
   of the data, so the outcome is deterministic. This guarantees the limit for every component,
   chains included (phone A-B, email B-C, phone C-D), not just for one shared value.

Connected components: min-label propagation with pointer jumping over account-account "star"
edges (every account of an identifier linked to that identifier's smallest account), one
`CREATE TABLE AS` per iteration in DuckDB until the labels stop changing (labels only decrease,
so an unchanged sum means a fixed point). Python loops over iterations and rounds, never rows.

Stable ids. A new customer gets `cust_` + the first 16 hex digits of md5(channel + U+001F +
account_id) of its oldest account (first seen, then channel, account_id): the same data gives the
same ids, even in a new file. With a previous assignment (`previous`, a `(channel, account_id,
customer_id)` table; a missing table means a first run):
- every previous id stays with the new component holding its oldest account (its *keeper*);
- a component keeping several previous ids keeps the oldest (first `created`/`split_from` in
  the history, then the oldest account); the others get `merged_into` it;
- a component keeping none gets a new id (if that id ever existed, md5 also covers
  U+001F + run_at.isoformat(): ids are never reused), and records `split_from` for every
  previous id whose accounts it took;
  a component that keeps an id and also takes accounts of another id's non-keeper part records
  `split_from` too; a component with no previous accounts at all records `created`.
`core.customer_id_history.accounts` is the number of accounts the event moved (for `created`,
the customer's size). The history is appended to (recreated when `previous` is None). Previous
ids whose accounts all vanished from the input get no event.

Outputs (`resolve`): `core.identity_edges` (kept sightings, with their customer_id),
`core.identity_dropped` (every identifier value not used for linking, one reason each),
`core.customer_accounts` (every input account; rows without channel or account_id are ignored),
`core.customer_id_history`, and the memory an incremental resolve starts from (`core.identity_state*`:
see "incremental resolution" below). `pairwise_quality` scores them against a truth table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from connectors.common.pii import PiiHasher
from warehouse.failpoints import failpoint
from warehouse.models import sql_literal

log = logging.getLogger(__name__)

INPUT = "identity_input"
EDGES = "core.identity_edges"
DROPPED = "core.identity_dropped"
ACCOUNTS = "core.customer_accounts"
HISTORY = "core.customer_id_history"
ID_PREFIX = "cust_"

# Order = strength: the first is the strongest (the platform rule drops weaker types first).
DEFAULT_STRONG_TYPES = ("member_card", "wechat_unionid", "top_open_uid", "email_hash", "phone_hash")
DEFAULT_WEAK_TYPES = ("phone_masked", "group_buy_id", "receiver_address_hash")
DEFAULT_OVERRIDE_TYPES = ("member_card", "wechat_unionid")
# fmt: off
DEFAULT_BLOCKED_VALUES = (
    "", "0", "-1", "null", "none", "nil", "nan", "undefined", "unknown", "n/a", "na", "#n/a", "test",
    "anonymous", "guest", "匿名", "未知",
)
# fmt: on
DEFAULT_BLOCKED_PATTERNS = ("0+", r"[*xX#-]+")  # all zeros; nothing but mask characters
# Placeholder numbers seen typed into order forms (unverified list: extend from real data).
KNOWN_TEST_PHONES = ("13800138000", "13888888888", "13900000000", "18888888888", "12345678901", "11111111111")
MAX_PLATFORM_ROUNDS = 1_000  # a safety net only: every round drops at least one identifier

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
_TEMP_PREFIX = "_idr_"  # every working table of a run; dropped at the end


@dataclass(frozen=True)
class IdentityRules:
    strong_types: tuple[str, ...] = DEFAULT_STRONG_TYPES
    weak_types: tuple[str, ...] = DEFAULT_WEAK_TYPES
    platform_override_types: tuple[str, ...] = DEFAULT_OVERRIDE_TYPES
    blocked_values: tuple[str, ...] = DEFAULT_BLOCKED_VALUES
    blocked_patterns: tuple[str, ...] = DEFAULT_BLOCKED_PATTERNS
    max_accounts_per_identifier: int = 5
    max_accounts_per_platform: int = 2
    # per-channel exceptions to max_accounts_per_platform, e.g. (("shopify", 2),) where a person
    # legitimately holds one account per shop of a channel
    channel_limits: tuple[tuple[str, int], ...] = ()
    # channels that share one account namespace, counted together by the platform limit, e.g.
    # (("tmall", "top"), ("taobao", "top")): one Taobao member buys on both (limits then name "top")
    platforms: tuple[tuple[str, str], ...] = ()
    # evidence that vetoes a link: a `conflict_checked_types` value (a phone) does not link accounts
    # when two of them carry `conflict_types` values (name hashes) and share none (a family phone
    # used by two differently named people)
    conflict_types: tuple[str, ...] = ()
    conflict_checked_types: tuple[str, ...] = ()

    def validate(self) -> None:
        both = set(self.strong_types) & set(self.weak_types)
        if both:
            raise ValueError(f"identity rules: types both strong and weak: {sorted(both)}")
        loose = set(self.platform_override_types) - set(self.strong_types)
        if loose:
            raise ValueError(f"identity rules: platform_override_types must be strong types: {sorted(loose)}")
        linking = set(self.conflict_types) & set(self.strong_types)
        if linking:
            raise ValueError(
                f"identity rules: conflict_types must not be strong (linking) types: {sorted(linking)}"
            )
        unchecked = set(self.conflict_checked_types) - set(self.strong_types)
        if unchecked:
            raise ValueError(
                f"identity rules: conflict_checked_types must be strong types: {sorted(unchecked)}"
            )
        if self.max_accounts_per_identifier < 2 or self.max_accounts_per_platform < 1:
            raise ValueError(
                "identity rules: max_accounts_per_identifier must be >= 2 and max_accounts_per_platform >= 1"
            )


def blocked_phone_hashes(pii: PiiHasher, numbers: Iterable[str] = KNOWN_TEST_PHONES) -> tuple[str, ...]:
    """`phone_hash` values of known test numbers, to add to `IdentityRules.blocked_values`."""
    return tuple(h for h in (pii.phone(n) for n in numbers) if h)


@dataclass
class IdentityResult:
    accounts: int = 0
    customers: int = 0
    edges: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> identifier values
    events: dict[str, int] = field(default_factory=dict)  # event -> rows appended to the history
    mode: str = "full"  # or "incremental": only the components the input's changes touched
    scope_accounts: int = 0  # incremental: the accounts resolved again
    iterations: int = 0  # label-propagation iterations of the main component pass
    platform_rounds: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class PairwiseQuality:
    accounts: int  # truth accounts evaluated
    true_pairs: int  # account pairs that are one person
    predicted_pairs: int  # account pairs given one customer_id
    correct_pairs: int  # both
    precision: float
    recall: float


# --- stage 1: accounts, identifier values and their verdicts ---------------------------------------

_ACCOUNTS_SQL = """
create or replace temp table _idr_acc as
with accounts as (
    select channel, account_id, min(seen_at) as first_seen_at
    from {source}
    where channel is not null and account_id is not null
    group by channel, account_id
)
select
    -- also the age order: 1 is the oldest account (first seen, then channel, account_id)
    cast(row_number() over (order by first_seen_at nulls last, channel, account_id) as integer) as acc,
    channel, account_id, first_seen_at
from accounts
"""

_SIGHTINGS_SQL = """
create or replace temp table _idr_sight as
select a.acc, i.id_type, i.id_value, min(i.seen_at) as first_seen_at, max(i.seen_at) as last_seen_at
from {source} as i
join _idr_acc as a on a.channel = i.channel and a.account_id = i.account_id
where i.id_type is not null
group by a.acc, i.id_type, i.id_value
"""

# every value the sightings hold and the accounts holding it (an incremental resolve passes the
# whole input's counts of its values instead: `_SCOPE_COUNTS_SQL`)
_VALUE_COUNTS = "select id_type, id_value, count(*) as accounts from _idr_sight group by id_type, id_value"

# `node` numbers the values in no particular order: nothing downstream depends on it. The blocked
# pattern is inlined as an escaped literal: DuckDB compiles a constant regex once, a bound one per
# row (3x slower at 1M values).
_VALUES_SQL = """
create or replace temp table _idr_val as
with values_ as (
    {value_counts}
),
checked as (
    select *,
        case
            when id_value is null or list_contains($blocked, lower(trim(id_value))) then 'placeholder value'
            when regexp_full_match(trim(id_value), {pattern}) then 'placeholder pattern'
        end as placeholder
    from values_
),
verdicts as (
    select *,
        case
            when placeholder is not null then 'blocked'
            when list_contains($weak, id_type) then 'weak_only'
            when not list_contains($strong, id_type) then 'unknown_type'
            when accounts > $cap then 'over_cap'
        end as reason
    from checked
)
select
    cast(row_number() over () as integer) as node,
    id_type, id_value, accounts, reason,
    case reason
        when 'blocked' then placeholder
        when 'weak_only' then 'weak type: evidence only, never links on its own'
        when 'unknown_type' then 'type not configured as strong or weak'
        when 'over_cap' then 'joins ' || accounts || ' accounts (cap ' || $cap || ')'
    end as detail,
    list_position($strong, id_type) as strength,  -- 1 = strongest
    list_contains($override, id_type) as override
from verdicts
"""

_OBSERVATIONS_SQL = """
create or replace temp table _idr_obs as
select s.acc, v.node, s.first_seen_at, s.last_seen_at
from _idr_sight as s
join _idr_val as v on v.id_type = s.id_type and v.id_value is not distinct from s.id_value
"""

# Guard 5, conflict: a checked value whose accounts include two that both carry evidence of one
# conflict type and share none of it. Pairs are few: a linking value joins at most `cap` accounts.
# Each side's evidence is joined to the pairs by account, one side per statement (a join of the
# two evidence sides on the type alone would be quadratic in the accounts).
_CONFLICT_EVIDENCE_SQL = """
create or replace temp table _idr_evidence as
select o.acc, v.id_type, list(v.id_value) as vals
from _idr_obs as o
join _idr_val as v on v.node = o.node
where list_contains($conflict, v.id_type)
group by o.acc, v.id_type
"""

_CONFLICT_PAIRS_SQL = """
create or replace temp table _idr_conflict_pairs as
with checked as (
    select o.acc, o.node
    from _idr_obs as o
    join _idr_val as v on v.node = o.node
    where v.reason is null and v.accounts >= 2 and list_contains($checked, v.id_type)
)
select a.node, b.acc as acc2, e.id_type, e.vals
from checked as a
join checked as b on a.node = b.node and a.acc < b.acc
join _idr_evidence as e on e.acc = a.acc
"""

_CONFLICT_SQL = """
create or replace temp table _idr_conflict as
select p.node, string_agg(distinct p.id_type, ', ' order by p.id_type) as types
from _idr_conflict_pairs as p
join _idr_evidence as e on e.acc = p.acc2 and e.id_type = p.id_type
where not list_has_any(p.vals, e.vals)
group by p.node
"""

_CONFLICT_MARK_SQL = """
update _idr_val as v
set reason = 'conflict', detail = 'accounts it joins disagree on ' || c.types
from _idr_conflict as c
where v.node = c.node
"""

_LINKS_SQL = """
create or replace temp table _idr_link as
select o.acc, o.node
from _idr_obs as o
join _idr_val as v on v.node = o.node
where v.reason is null and v.accounts >= 2
"""

# --- connected components ------------------------------------------------------------------------

_CC_EDGES_SQL = """
create or replace temp table _idr_cc_edge as
with members as (
    select acc, min(acc) over (partition by node) as hub
    from ({links})
)
select acc as a, hub as b from members where acc <> hub
union all
select hub as a, acc as b from members where acc <> hub
"""

_CC_INIT_SQL = """
create or replace temp table {out} as
select a as acc, least(a, min(b)) as label
from _idr_cc_edge
group by a
"""

# One hop of min-label propagation, then a pointer jump (my label := my new label's label).
_CC_STEP_SQL = """
create or replace temp table _idr_cc_next as
with hop as (
    select e.a as acc, min(l.label) as label
    from _idr_cc_edge as e
    join {out} as l on l.acc = e.b
    group by e.a
),
step as (
    select l.acc, least(l.label, h.label) as label
    from {out} as l
    join hop as h on h.acc = l.acc
)
select s.acc, least(s.label, j.label) as label
from step as s
join {out} as j on j.acc = s.label
"""

# --- platform limit ----------------------------------------------------------------------------

_PL_BAD_SQL = """
create or replace temp table _idr_pl_bad as
select c.label, a.platform as channel, count(distinct coalesce(g.label, c.acc)) as groups
from _idr_comp as c
semi join _idr_pl_scope as s on s.acc = c.acc
join _idr_accp as a on a.acc = c.acc
left join _idr_ogroup as g on g.acc = c.acc
left join _idr_pl_limits as pl on pl.channel = a.platform
group by c.label, a.platform
having count(distinct coalesce(g.label, c.acc)) > coalesce(max(pl.lim), $limit)
"""

_PL_DROP_SQL = """
create or replace temp table _idr_pl_drop as
with candidates as (
    select
        c.label, l.node,
        count(*) filter (where b.channel is not null) as on_bad_channels,
        count(*) as accounts
    from _idr_link as l
    join _idr_comp as c on c.acc = l.acc
    join _idr_accp as a on a.acc = l.acc
    left join _idr_pl_bad as b on b.label = c.label and b.channel = a.platform
    where c.label in (select label from _idr_pl_bad)
    group by c.label, l.node
),
worst as (
    select label, string_agg(channel || ': ' || groups, ', ' order by channel) as channels
    from _idr_pl_bad
    group by label
)
select k.node, k.label,
    'component held more accounts of one channel than allowed (default ' || $limit || '; '
        || w.channels || ')' as detail
from candidates as k
join _idr_val as v on v.node = k.node
join worst as w on w.label = k.label
where not v.override
qualify row_number() over (
    partition by k.label
    order by k.on_bad_channels desc, k.accounts desc, v.strength desc, v.id_type, v.id_value
) = 1
"""

# --- stable ids ----------------------------------------------------------------------------------

_CURRENT_SQL = """
create or replace temp table _idr_cur as
select a.acc, a.channel, a.account_id, coalesce(c.label, a.acc) as label, p.customer_id as old_id
from _idr_acc as a
left join _idr_comp as c on c.acc = a.acc
left join _idr_prev as p on p.channel = a.channel and p.account_id = a.account_id
"""

_OLD_IDS_SQL = """
create or replace temp table _idr_old as
with held as (
    select old_id, min(acc) as oldest
    from _idr_cur
    where old_id is not null
    group by old_id
),
born as (
    select customer_id as old_id, min(run_at) as created_at
    from _idr_hist
    where event in ('created', 'split_from')
    group by customer_id
)
select h.old_id, k.label as keeper_label, b.created_at, h.oldest
from held as h
join _idr_cur as k on k.acc = h.oldest
left join born as b on b.old_id = h.old_id
"""

# A component's label is its smallest acc, i.e. its oldest account: that account is the anchor.
_IDS_SQL = """
create or replace temp table _idr_ids as
with survivors as (
    select keeper_label as label, old_id as customer_id
    from _idr_old
    qualify row_number() over (partition by keeper_label order by created_at nulls last, oldest) = 1
),
sizes as (
    select label, count(*) as size, count(old_id) as old_accounts
    from _idr_cur
    group by label
),
fresh as (
    select z.label, z.size, z.old_accounts, s.customer_id as survivor,
        c.channel || chr(31) || c.account_id as anchor
    from sizes as z
    join _idr_cur as c on c.acc = z.label
    left join survivors as s on s.label = z.label
),
plain as (
    select *, case when survivor is null then $prefix || left(md5(anchor), 16) end as plain_id
    from fresh
),
known as (
    -- the new ids some customer has had: the few new ids are looked up among every previous id (not
    -- every previous id among the new ones: a hash table of millions of ids)
    select p.customer_id from _idr_prev_ids as p semi join plain as x on x.plain_id = p.customer_id
    union
    select customer_id from _idr_hist
    union
    select other_customer_id from _idr_hist where other_customer_id is not null
)
select
    label, size, old_accounts, survivor is null as is_new,
    case
        when survivor is not null then survivor
        when plain_id in (select customer_id from known)
            then $prefix || left(md5(anchor || chr(31) || $run_key), 16)
        else plain_id
    end as customer_id
from plain
"""

_EVENTS_SQL = """
create or replace temp table _idr_events as
with moves as (
    select label, old_id, count(*) as accounts
    from _idr_cur
    where old_id is not null
    group by label, old_id
)
select i.customer_id, 'created' as event, cast(null as varchar) as other_customer_id, i.size as accounts
from _idr_ids as i
where i.is_new and i.old_accounts = 0
union all
select m.old_id, 'merged_into', i.customer_id, m.accounts
from moves as m
join _idr_old as o on o.old_id = m.old_id and o.keeper_label = m.label
join _idr_ids as i on i.label = m.label
where i.customer_id <> m.old_id
union all
select i.customer_id, 'split_from', m.old_id, m.accounts
from moves as m
join _idr_old as o on o.old_id = m.old_id and o.keeper_label <> m.label
join _idr_ids as i on i.label = m.label
"""

# --- outputs -------------------------------------------------------------------------------------

# What each output table holds of this run's accounts and values (a full resolve replaces the tables
# with them; an incremental one replaces its scope's rows: `_write`).
_OUTPUTS = {
    EDGES: """
select a.channel, a.account_id, v.id_type, v.id_value, v.accounts, o.first_seen_at, o.last_seen_at,
    i.customer_id
from _idr_obs as o
join _idr_val as v on v.node = o.node
join _idr_cur as a on a.acc = o.acc
join _idr_ids as i on i.label = a.label
where v.reason is null and v.node not in (select node from _idr_pl_dropped)
""",
    DROPPED: """
select id_type, id_value, reason, accounts, detail
from _idr_val
where reason is not null
union all
select v.id_type, v.id_value, 'platform_limit', v.accounts, d.detail
from _idr_pl_dropped as d
join _idr_val as v on v.node = d.node
""",
    ACCOUNTS: """
select c.channel, c.account_id, i.customer_id
from _idr_cur as c
join _idr_ids as i on i.label = c.label
""",
}

# --- incremental resolution ------------------------------------------------------------------------
#
# A resolve's outcome decomposes over the components of the graph whose edges are the *candidate
# links*: values of a strong type, not placeholders, held by at most `cap` accounts (what survives
# guards 1-4). Guard 5 (conflict) looks only at one value's accounts and guard 6 (platform limit) cuts
# inside a component, so both act inside one candidate component; an old customer id lives in one
# old customer, hence in one candidate component. Outside the components that input rows changed,
# everything is as the last resolve left it. So an incremental resolve:
# 1. compares the input's rows with the last resolve's (kept hashed in STATE): the rows added and gone
#    name the *changed* accounts and values;
# 2. seeds its scope with the changed accounts and every account holding a changed value that may
#    link (held by at most `cap` accounts now, or a candidate link last time), then grows it through
#    last time's candidate links until it holds whole old candidate components (STATE_LINKS). A new
#    candidate link either has a changed row (all its accounts are seeds) or was one last time with
#    the same accounts, so the scope holds whole new candidate components too;
# 3. resolves the scope's input rows as a full resolve would, except that every value's account count
#    (guard 4, and the counts the tables report) is counted over the whole input;
# 4. replaces the scope's accounts' rows of the output tables, and the rows of every value it counted.
# The result equals a full resolve of the same input with the same previous ids (tests/test_identity.py
# checks it on random graphs with every guard firing).

STATE = "core.identity_state"
STATE_LINKS = "core.identity_state_links"
STATE_RULES = "core.identity_state_rules"
ENGINE_VERSION = 1  # raise it when the resolution changes: the next run then resolves in full


def _account_key(channel: str, account_id: str) -> str:
    """128 bits naming an account (two independent 64-bit hashes: no collision at any real scale)."""
    return (
        f"((hash({channel}, {account_id})::uhugeint << 64) "
        f"| hash({account_id} || chr(31) || {channel})::uhugeint)"
    )


def _value_key(id_type: str, id_value: str) -> str:
    """128 bits naming an identifier value; 0 for a row that only declares its account."""
    return (
        f"(case when {id_type} is null then 0::uhugeint else (hash({id_type}, {id_value})::uhugeint << 64) "
        f"| hash(coalesce({id_value}, chr(30)) || chr(31) || {id_type})::uhugeint end)"
    )


_INPUT_KEYS = f"""
select {_account_key("channel", "account_id")} as ak, {_value_key("id_type", "id_value")} as vk, seen_at
from {{source}}
where channel is not null and account_id is not null
"""

# the value keys of the candidate links among the values resolved (platform-limit drops included)
_LINK_KEYS = f"""
select {_value_key("id_type", "id_value")} as vk from _idr_val where reason is null or reason = 'conflict'
"""

# the rows added (in the input, not in the memory) and gone (the other way round): one full join
# (one hash table) rather than two anti joins
_DELTA_SQL = """
create or replace temp table _idr_delta as
select coalesce(n.ak, s.ak) as ak, coalesce(n.vk, s.vk) as vk
from _idr_now as n
full join {state} as s on s.ak = n.ak and s.vk = n.vk and s.seen_at is not distinct from n.seen_at
where n.ak is null or s.ak is null
"""

_SEEDS_SQL = """
create or replace temp table _idr_scope as
with changed_values as (
    select distinct vk from _idr_delta where vk <> 0
),
holders as (
    select n.vk, count(distinct n.ak) as accounts
    from _idr_now as n
    semi join changed_values as c on c.vk = n.vk
    group by n.vk
),
may_link as (
    select c.vk
    from changed_values as c
    left join holders as h on h.vk = c.vk
    where coalesce(h.accounts, 0) <= $cap or c.vk in (select vk from {links})
)
select ak from _idr_delta
union
select n.ak from _idr_now as n semi join may_link as m on m.vk = n.vk
"""

# one step of growth: the accounts joined to the scope by a value that was a candidate link
_GROW_SQL = """
insert into _idr_scope
select distinct b.ak
from {state} as a
join {state} as b on b.vk = a.vk
where a.ak in (select ak from _idr_scope)
  and a.vk in (select vk from {links})
  and b.ak not in (select ak from _idr_scope)
"""

_SCOPE_SOURCE_SQL = f"""
create or replace temp table _idr_src as
select i.channel, i.account_id, i.id_type, i.id_value, i.seen_at
from {{source}} as i
semi join _idr_scope as s on s.ak = {_account_key("i.channel", "i.account_id")}
where i.channel is not null and i.account_id is not null
"""

# every value the scope's rows hold or the changed rows held, counted over the whole input
_SCOPE_COUNTS_SQL = f"""
create or replace temp table _idr_universe as
select {_value_key("id_type", "id_value")} as vk from _idr_src where id_type is not null
union
select vk from _idr_delta where vk <> 0;

create or replace temp table _idr_vcount as
select i.id_type, i.id_value, count(distinct i.channel || chr(31) || i.account_id) as accounts
from {{source}} as i
semi join _idr_universe as u on u.vk = {_value_key("i.id_type", "i.id_value")}
where i.channel is not null and i.account_id is not null and i.id_type is not null
group by i.id_type, i.id_value
"""

_HISTORY_DDL = f"""
create {{mode}} {HISTORY} (
    customer_id varchar not null,
    event varchar not null,
    other_customer_id varchar,
    run_at timestamptz not null,
    accounts bigint not null
)
"""

_KEY_COMMENT = "128-bit hash of "
_COMMENTS = {
    STATE: (
        "Identity resolution's memory of its input, so that the next run resolves only what changed: "
        "one row per input row the last resolve saw, hashed. Internal to the pipeline.",
        {
            "ak": _KEY_COMMENT + "(channel, account_id).",
            "vk": _KEY_COMMENT + "(id_type, id_value); 0 for a row that only declares its account.",
            "seen_at": "When the identifier was seen with the account (UTC).",
        },
    ),
    STATE_LINKS: (
        "Identity resolution's memory: the identifier values that could link accounts in the last "
        "resolve (strong, no placeholder, within the cap), hashed. Internal to the pipeline.",
        {"vk": _KEY_COMMENT + "(id_type, id_value)."},
    ),
    STATE_RULES: (
        "Identity resolution's memory: the rules and engine version it was made with; another "
        "resolves in full. Internal to the pipeline.",
        {"rules": "Fingerprint of the rules and the engine version."},
    ),
    EDGES: (
        "Identifier sightings kept for linking accounts (after every guard). Grain: one row per "
        "account and identifier value.",
        {
            "accounts": "How many accounts share this identifier value.",
            "customer_id": "The unified customer the account resolved to.",
        },
    ),
    DROPPED: (
        "Identifier values not used for linking, and why. Grain: one row per (id_type, id_value).",
        {
            "reason": "blocked, weak_only, unknown_type, over_cap, conflict or platform_limit (the first "
            "that applies).",
            "accounts": "How many accounts carry this identifier value.",
            "detail": "Human-readable reason (the cap or limit it broke).",
        },
    ),
    ACCOUNTS: (
        "Every platform account and the unified customer it resolved to. Grain: one row per "
        "(channel, account_id).",
        {"customer_id": "Stable unified customer id (kept across reruns; merges keep the older id)."},
    ),
    HISTORY: (
        "How customer ids came to be: created, merged_into (customer_id was absorbed by "
        "other_customer_id), split_from (customer_id received accounts that belonged to "
        "other_customer_id). Grain: one row per event; appended on every run.",
        {"accounts": "Number of accounts the event moved (for created: the customer's size)."},
    ),
}


def _table_name(name: str) -> str:
    if not _TABLE_NAME.fullmatch(name):
        raise ValueError(f"identity resolution: {name!r} is not a plain table name")
    return name


def _exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    try:
        conn.execute(f"select 1 from {table} limit 0")
    except duckdb.CatalogException:
        return False
    return True


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _components(conn: duckdb.DuckDBPyConnection, links: str, out: str) -> int:
    """Connected components of the accounts in `links` (a query of (acc, node) memberships) into
    temp table `out` (acc, label = smallest acc of its component); returns the iteration count.
    Accounts without an edge are absent from `out`: they are their own component."""
    conn.execute(_CC_EDGES_SQL.format(links=links))
    conn.execute(_CC_INIT_SQL.format(out=out))
    total = _scalar(conn, f"select sum(label)::hugeint from {out}")
    iterations = 1
    while True:
        conn.execute(_CC_STEP_SQL.format(out=out))
        iterations += 1
        new_total = _scalar(conn, "select sum(label)::hugeint from _idr_cc_next")
        conn.execute(f"drop table {out}")
        conn.execute(f"alter table _idr_cc_next rename to {out}")
        if new_total == total:
            return iterations
        total = new_total


def _platform_limit(conn: duckdb.DuckDBPyConnection, rules: IdentityRules) -> int:
    """Cut components holding too many accounts of one channel; returns the number of rounds."""
    limit = {"limit": rules.max_accounts_per_platform}
    conn.execute("create or replace temp table _idr_pl_limits (channel varchar, lim integer)")
    if rules.channel_limits:
        conn.executemany("insert into _idr_pl_limits values (?, ?)", [list(x) for x in rules.channel_limits])
    conn.execute("create or replace temp table _idr_pl_dropped (node integer, label integer, detail varchar)")
    conn.execute("create or replace temp table _idr_platforms (channel varchar, platform varchar)")
    if rules.platforms:
        conn.executemany("insert into _idr_platforms values (?, ?)", [list(x) for x in rules.platforms])
    conn.execute(
        "create or replace temp table _idr_accp as select a.acc, coalesce(p.platform, a.channel) as platform "
        "from _idr_acc as a left join _idr_platforms as p on p.channel = a.channel"
    )
    conn.execute("create or replace temp table _idr_pl_scope as select acc from _idr_comp")
    rounds = 0
    while True:
        conn.execute(_PL_BAD_SQL, limit)
        bad = _scalar(conn, "select count(distinct label) from _idr_pl_bad")
        if not bad:
            return rounds
        rounds += 1
        if rounds > MAX_PLATFORM_ROUNDS:
            raise RuntimeError(
                f"identity resolution: platform limit did not settle in {MAX_PLATFORM_ROUNDS} rounds"
            )
        conn.execute(_PL_DROP_SQL, limit)
        if _scalar(conn, "select count(*) from _idr_pl_drop") < bad:
            # cannot happen: distinct override groups are only joined through non-override links
            raise RuntimeError("identity resolution: a component over the platform limit has nothing to cut")
        conn.execute("insert into _idr_pl_dropped select node, label, detail from _idr_pl_drop")
        conn.execute("delete from _idr_link where node in (select node from _idr_pl_drop)")
        # only the offending components change: recompute them alone
        conn.execute(
            "create or replace temp table _idr_pl_scope as "
            "select acc from _idr_comp where label in (select label from _idr_pl_bad)"
        )
        _components(
            conn,
            "select l.acc, l.node from _idr_link as l semi join _idr_pl_scope as s on s.acc = l.acc",
            "_idr_pl_comp",
        )
        conn.execute("delete from _idr_comp where acc in (select acc from _idr_pl_scope)")
        conn.execute("insert into _idr_comp select acc, label from _idr_pl_comp")
        log.info("identity: platform limit round %d cut %d components", rounds, bad)


def _load_previous(conn: duckdb.DuckDBPyConnection, previous: str | None, scope_only: bool) -> None:
    """`_idr_prev`: the previous id of each account to resolve (`scope_only`: the incremental
    scope's); `_idr_prev_ids`: every previous id (new ids must differ); `_idr_hist`: the history."""
    empty_prev = (
        "select cast(null as varchar) as channel, cast(null as varchar) as account_id, "
        "cast(null as varchar) as customer_id where false"
    )
    empty_hist = (
        "select cast(null as varchar) as customer_id, cast(null as varchar) as event, "
        "cast(null as varchar) as other_customer_id, cast(null as timestamptz) as run_at where false"
    )
    if previous is not None and _exists(conn, previous):
        in_scope = (
            f"and {_account_key('channel', 'account_id')} in (select ak from _idr_scope)"
            if scope_only
            else ""
        )
        prev_sql = (
            f"select channel, account_id, min(customer_id) as customer_id from {previous} "
            f"where customer_id is not null {in_scope} group by channel, account_id"
        )
        ids_sql = f"select customer_id from {previous} where customer_id is not null"
    else:
        prev_sql = empty_prev
        ids_sql = "select customer_id from _idr_prev"
    if previous is not None and _exists(conn, HISTORY):
        hist_sql = f"select customer_id, event, other_customer_id, run_at from {HISTORY}"
    else:
        hist_sql = empty_hist
    conn.execute(f"create or replace temp table _idr_prev as {prev_sql}")
    conn.execute(f"create or replace temp view _idr_prev_ids as {ids_sql}")
    conn.execute(f"create or replace temp table _idr_hist as {hist_sql}")


def _rules_key(rules: IdentityRules) -> str:
    text = repr((ENGINE_VERSION, dataclasses.astuple(rules)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _incremental_possible(
    conn: duckdb.DuckDBPyConnection, rules: IdentityRules, previous: str | None
) -> bool:
    """The last resolve's outputs and memory are here, made with these rules, and this run keeps the
    ids of the default previous table (anything else resolves in full)."""
    if previous != ACCOUNTS or not all(
        _exists(conn, t) for t in (EDGES, DROPPED, ACCOUNTS, HISTORY, STATE, STATE_LINKS, STATE_RULES)
    ):
        return False
    row = conn.execute(f"select min(rules), count(*) from {STATE_RULES}").fetchone()
    return row is not None and row[1] == 1 and row[0] == _rules_key(rules)


def _scope(conn: duckdb.DuckDBPyConnection, rules: IdentityRules, source: str) -> int:
    """The accounts an incremental resolve must resolve again (`_idr_scope`), their input rows
    (`_idr_src`) and the whole input's account counts of the values it touches (`_idr_vcount`);
    returns how many accounts the scope holds."""
    conn.execute(f"create or replace temp table _idr_now as {_INPUT_KEYS.format(source=source)}")
    conn.execute(_DELTA_SQL.format(state=STATE))
    conn.execute(_SEEDS_SQL.format(links=STATE_LINKS), {"cap": rules.max_accounts_per_identifier})
    grow = _GROW_SQL.format(state=STATE, links=STATE_LINKS)
    while _scalar(conn, grow):  # the number of accounts added; old components are small and few hops deep
        pass
    conn.execute(_SCOPE_SOURCE_SQL.format(source=source))
    conn.execute(_SCOPE_COUNTS_SQL.format(source=source))
    return _scalar(conn, "select count(*) from _idr_scope")


# An incremental resolve replaces its scope's rows: the accounts it resolved again (output tables
# keyed by account) and the values it counted (the dropped values)
_SCOPE_DELETES = {
    EDGES: f"{_account_key('channel', 'account_id')} in (select ak from _idr_scope)",
    ACCOUNTS: f"{_account_key('channel', 'account_id')} in (select ak from _idr_scope)",
    DROPPED: f"{_value_key('id_type', 'id_value')} in (select vk from _idr_universe)",
    STATE: "ak in (select ak from _idr_scope)",
    STATE_LINKS: "vk in (select vk from _idr_universe)",
}


def _write(
    conn: duckdb.DuckDBPyConnection,
    run_at: datetime,
    fresh_history: bool,
    rules: IdentityRules,
    source: str,
    incremental: bool,
) -> None:
    """The outputs and the memory in one transaction: in full, or the scope's rows replaced."""
    outputs = {
        **_OUTPUTS,
        STATE: f"select distinct * from ({_INPUT_KEYS.format(source='_idr_src' if incremental else source)})",
        STATE_LINKS: _LINK_KEYS,
    }
    conn.execute("begin transaction")
    try:
        conn.execute("create schema if not exists core")
        for table, select in outputs.items():
            if incremental:
                conn.execute(f"delete from {table} where {_SCOPE_DELETES[table]}")
                conn.execute(f"insert into {table} by name {select}")
            else:
                conn.execute(f"create or replace table {table} as {select}")
        if not incremental:
            conn.execute(f"create or replace table {STATE_RULES} as select ? as rules", [_rules_key(rules)])
        conn.execute(_HISTORY_DDL.format(mode="or replace table" if fresh_history else "table if not exists"))
        conn.execute(
            f"insert into {HISTORY} select customer_id, event, other_customer_id, $run_at, accounts "
            "from _idr_events",
            {"run_at": run_at},
        )
        for table, (summary, columns) in _COMMENTS.items():
            conn.execute(f"comment on table {table} is {sql_literal(summary)}")
            for column, text in columns.items():
                conn.execute(f"comment on column {table}.{column} is {sql_literal(text)}")
        failpoint("identity.uncommitted")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise


def resolve(
    conn: duckdb.DuckDBPyConnection,
    rules: IdentityRules,
    run_at: datetime,
    *,
    previous: str | None = ACCOUNTS,
    source: str = INPUT,
    incremental: bool = False,
) -> IdentityResult:
    """Resolve the accounts of `source` into customers; write the `core.identity_*` and
    `core.customer_*` tables. `previous` names the previous run's (channel, account_id,
    customer_id) table (absent table = first run; None = start over, history recreated).
    `incremental`: resolve only the components the input's changes since the last resolve touch
    (see "incremental resolution" above; the same tables as a full resolve), when the last
    resolve's memory is usable; otherwise in full."""
    began = time.perf_counter()
    rules.validate()
    if run_at.tzinfo is None:
        raise ValueError("identity resolution: run_at must be timezone-aware")
    source = _table_name(source)
    previous = _table_name(previous) if previous is not None else None
    result = IdentityResult()
    try:
        value_counts = _VALUE_COUNTS
        resolved = source
        if incremental and _incremental_possible(conn, rules, previous):
            result.mode = "incremental"
            result.scope_accounts = _scope(conn, rules, source)
            resolved = "_idr_src"
            value_counts = "select id_type, id_value, accounts from _idr_vcount"
        _load_previous(conn, previous, scope_only=result.mode == "incremental")  # before this run replaces it
        conn.execute(_ACCOUNTS_SQL.format(source=resolved))
        conn.execute(_SIGHTINGS_SQL.format(source=resolved))
        # one RE2 alternation; with no patterns, a class that matches nothing (RE2 has no lookahead)
        pattern = "|".join(f"(?:{p})" for p in rules.blocked_patterns) or r"[^\s\S]"
        conn.execute(
            _VALUES_SQL.format(pattern=sql_literal(pattern), value_counts=value_counts),
            {
                "blocked": [v.strip().lower() for v in rules.blocked_values],
                "weak": list(rules.weak_types),
                "strong": list(rules.strong_types),
                "override": list(rules.platform_override_types),
                "cap": rules.max_accounts_per_identifier,
            },
        )
        conn.execute(_OBSERVATIONS_SQL)
        if rules.conflict_types and rules.conflict_checked_types:
            conn.execute(_CONFLICT_EVIDENCE_SQL, {"conflict": list(rules.conflict_types)})
            conn.execute(_CONFLICT_PAIRS_SQL, {"checked": list(rules.conflict_checked_types)})
            conn.execute(_CONFLICT_SQL)
            conn.execute(_CONFLICT_MARK_SQL)
        conn.execute(_LINKS_SQL)
        # override groups: accounts tied by a member card / unionid count once per channel
        _components(
            conn,
            "select l.acc, l.node from _idr_link as l join _idr_val as v on v.node = l.node where v.override",
            "_idr_ogroup",
        )
        result.iterations = _components(conn, "select acc, node from _idr_link", "_idr_comp")
        log.info("identity: components settled after %d iterations", result.iterations)
        result.platform_rounds = _platform_limit(conn, rules)

        conn.execute(_CURRENT_SQL)
        conn.execute(_OLD_IDS_SQL)
        conn.execute(_IDS_SQL, {"prefix": ID_PREFIX, "run_key": run_at.isoformat()})
        ids = conn.execute("select count(*), count(distinct customer_id) from _idr_ids").fetchone()
        if not ids or ids[0] != ids[1]:
            raise RuntimeError("identity resolution: two customers were given the same customer_id")
        conn.execute(_EVENTS_SQL)
        _write(conn, run_at, previous is None, rules, source, incremental=result.mode == "incremental")

        result.accounts = _scalar(conn, f"select count(*) from {ACCOUNTS}")
        result.customers = (
            ids[0]
            if result.mode == "full"
            else _scalar(conn, f"select count(distinct customer_id) from {ACCOUNTS}")
        )
        result.edges = _scalar(conn, f"select count(*) from {EDGES}")
        result.dropped = dict(conn.execute(f"select reason, count(*) from {DROPPED} group by all").fetchall())
        result.events = dict(conn.execute("select event, count(*) from _idr_events group by all").fetchall())
    finally:
        temps = conn.execute(
            "select table_name from duckdb_tables() where temporary and starts_with(table_name, ?)",
            [_TEMP_PREFIX],
        ).fetchall()
        for (table,) in temps:
            conn.execute(f"drop table if exists temp.{table}")
        conn.execute("drop view if exists temp._idr_prev_ids")
    result.seconds = time.perf_counter() - began
    log.info(
        "identity (%s%s): %d accounts -> %d customers in %.1fs (%d iterations, %d platform rounds), "
        "dropped %s, events %s",
        result.mode,
        f", {result.scope_accounts} accounts resolved again" if result.mode == "incremental" else "",
        result.accounts,
        result.customers,
        result.seconds,
        result.iterations,
        result.platform_rounds,
        result.dropped,
        result.events,
    )
    return result


_QUALITY_SQL = """
with truth as (
    select distinct channel, account_id, person_id from {truth}
),
joined as (
    select t.person_id, coalesce(p.customer_id, '~' || t.channel || chr(31) || t.account_id) as customer_id
    from truth as t
    left join {accounts} as p on p.channel = t.channel and p.account_id = t.account_id
)
select
    (select count(*) from joined),
    (select coalesce(sum(n * (n - 1) // 2), 0) from (select count(*) as n from joined group by person_id)),
    (select coalesce(sum(n * (n - 1) // 2), 0) from (select count(*) as n from joined group by customer_id)),
    (select coalesce(sum(n * (n - 1) // 2), 0)
     from (select count(*) as n from joined group by customer_id, person_id))
"""


def pairwise_quality(
    conn: duckdb.DuckDBPyConnection, truth_table: str, accounts_table: str = ACCOUNTS
) -> PairwiseQuality:
    """Pairwise precision and recall of the resolved customers against `truth_table`
    (channel, account_id, person_id), counted as sum(n*(n-1)/2) over groups. Only truth accounts
    are evaluated; a truth account missing from `accounts_table` counts as its own customer.
    No pairs predicted (or none true) gives precision (recall) 1.0."""
    sql = _QUALITY_SQL.format(truth=_table_name(truth_table), accounts=_table_name(accounts_table))
    row = conn.execute(sql).fetchone()
    accounts, true_pairs, predicted, correct = (int(x) for x in row) if row else (0, 0, 0, 0)
    return PairwiseQuality(
        accounts=accounts,
        true_pairs=true_pairs,
        predicted_pairs=predicted,
        correct_pairs=correct,
        precision=correct / predicted if predicted else 1.0,
        recall=correct / true_pairs if true_pairs else 1.0,
    )
