"""The unified customer: identity resolution and lifetime value, the two warehouse steps that are
Python rather than SQL (both work inside the build file, like the SQL models).

`core/customer_accounts` resolves the identifier graph (`core.identity_sightings`) into stable
customer ids with `warehouse/identity.py` (guards, DuckDB connected components, merge/split
history) and, when the sandbox's ground truth sits beside the data (`<data>/sandbox/
truth_accounts.parquet`), reports pairwise precision and recall as metadata on every run.
`marts/customer_ltv` fits BG/NBD and Gamma-Gamma (`warehouse/clv.py`) on the unified customers'
paid consumer orders and predicts each customer's next 12 months.
"""

import time
from typing import Any

import dagster as dg
import duckdb
import numpy as np

from connectors.common.timeutil import utc_now
from connectors.sandbox.truth import TRUTH_ACCOUNTS_FILE
from pipelines.model_assets import POOL, full_rebuild, model_key
from pipelines.resources import OmniResource
from warehouse.clv import (
    BgNbd,
    ClvFitError,
    Nbd,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_nbd,
)
from warehouse.identity import IdentityRules, PairwiseQuality, pairwise_quality, resolve
from warehouse.models import sql_literal

IDENTITY_RULES = IdentityRules(
    strong_types=("member_card", "wechat_unionid", "top_open_uid", "email_hash", "phone_hash"),
    weak_types=("phone_masked", "receiver_phone_other", "receiver_phone_once", "name_hash"),
    # a loyalty card, a WeChat unionid and a Taobao member id each prove one person on their own
    platform_override_types=("member_card", "wechat_unionid", "top_open_uid"),
    # one account per person per platform (two accounts of one channel linked by a phone are two
    # people sharing it), except Shopify, where a person has an account in each store; Tmall and
    # Taobao share one member id, so two different ones in a component are two people
    max_accounts_per_platform=1,
    channel_limits=(("shopify", 2),),
    platforms=(("tmall", "top"), ("taobao", "top")),
    # a phone is not one person when the accounts sharing it go by different names (a family phone)
    conflict_types=("name_hash",),
    conflict_checked_types=("phone_hash",),
)
CLV_MONTHS = 12
CLV_MONTHLY_DISCOUNT = 0.01


@dg.asset(
    key=model_key("core.customer_accounts"),
    deps=[model_key("core.identity_sightings")],
    group_name="core",
    kinds={"duckdb", "python"},
    pool=POOL,
    owners=["team:data-platform"],
    description="Identity resolution: every platform account -> a stable unified customer_id. Also "
    "writes core.identity_edges, core.identity_dropped (identifiers the guards kept from linking, "
    "with the reason) and core.customer_id_history (created / merged_into / split_from). Precision "
    "and recall against the sandbox's truth are in the metadata when the truth file is present.",
)
def customer_accounts(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
    with omni.build_connection() as conn:
        # an `account` sighting only declares the account (a null type for the engine)
        conn.execute(
            "create or replace temp view identity_input as select channel, account_id, "
            "case when id_type = 'account' then null else id_type end as id_type, id_value, seen_at "
            "from core.identity_sightings"
        )
        # a nightly run resolves only the components its new sightings touch; a full rebuild, all
        result = resolve(
            conn, IDENTITY_RULES, utc_now(), source="identity_input", incremental=not full_rebuild(context)
        )
        metadata: dict[str, Any] = {
            "mode": result.mode,
            "accounts_resolved": result.accounts if result.mode == "full" else result.scope_accounts,
            "accounts": result.accounts,
            "customers": result.customers,
            "linking_identifiers": result.edges,
            "identifiers_dropped": result.dropped,
            "history_events": result.events,
            "seconds": round(result.seconds, 2),
        }
        truth = omni.paths().sandbox_dir / TRUTH_ACCOUNTS_FILE
        if truth.exists():
            conn.execute(
                "create or replace temp table identity_truth as select channel, account_id, person_id "
                "from read_parquet(?) where person_id is not null and account_id in "
                "(select account_id from core.customer_accounts)",
                [str(truth)],
            )
            quality = pairwise_quality(conn, "identity_truth")
            _record_quality(conn, quality)
            metadata.update(
                precision=round(quality.precision, 4),
                recall=round(quality.recall, 4),
                truth_accounts=quality.accounts,
                true_pairs=quality.true_pairs,
                predicted_pairs=quality.predicted_pairs,
            )
            context.log.info(
                f"identity: precision {quality.precision:.4f}, recall {quality.recall:.4f} "
                f"over {quality.accounts} accounts with known owners"
            )
        else:
            metadata["quality"] = "no ground truth (real shops): precision and recall are not measured"
    return dg.MaterializeResult(metadata=metadata)


_QUALITY_COMMENTS = {
    "": "Identity resolution measured against a known truth (the sandbox's ownership file), one row per "
    "run that had one. Grain: one row per measurement.",
    "measured_at": "When the run measured it (UTC).",
    "truth_accounts": "Accounts the truth covers.",
    "true_pairs": "Pairs of accounts that truly belong to one person.",
    "predicted_pairs": "Pairs of accounts the pipeline gave one customer_id.",
    "correct_pairs": "Predicted pairs that are true pairs.",
    "precision": "correct_pairs / predicted_pairs (fraction 0-1): how rarely two people were merged.",
    "recall": "correct_pairs / true_pairs (fraction 0-1): how often one person's accounts were joined.",
}


def _record_quality(conn: duckdb.DuckDBPyConnection, quality: PairwiseQuality) -> None:
    """Every run's measured quality, kept in the warehouse (audit.identity_quality) for the trend."""
    conn.execute("create schema if not exists audit")
    conn.execute(
        "create table if not exists audit.identity_quality (measured_at timestamptz, truth_accounts bigint, "
        "true_pairs bigint, predicted_pairs bigint, correct_pairs bigint, precision double, recall double)"
    )
    for column, text in _QUALITY_COMMENTS.items():
        target = "table audit.identity_quality" if column == "" else f"column audit.identity_quality.{column}"
        conn.execute(f"comment on {target} is {sql_literal(text)}")
    conn.execute(
        "insert into audit.identity_quality values (?, ?, ?, ?, ?, ?, ?)",
        [
            utc_now(),
            quality.accounts,
            quality.true_pairs,
            quality.predicted_pairs,
            quality.correct_pairs,
            quality.precision,
            quality.recall,
        ],
    )


_CLV_INPUT = """
with days as (
    -- BG/NBD counts purchase days: several orders on one day are one purchase
    select customer_id, order_date, sum(net_cny) as net_cny
    from marts.fct_orders
    where customer_id is not null and paid_cny > 0 and sales_model <> 'b2b'
    group by customer_id, order_date
),

as_of as (
    select max(order_date) + 1 as as_of_date from marts.fct_orders
),

firsts as (
    select customer_id, min(order_date) as first_day from days group by customer_id
)

select
    d.customer_id,
    count(*) - 1 as frequency,
    date_diff('day', f.first_day, max(d.order_date)) as recency_days,
    date_diff('day', f.first_day, any_value(a.as_of_date)) as t_days,
    -- Gamma-Gamma: the mean value of the repeat purchases (the first one is left out)
    coalesce(avg(d.net_cny) filter (where d.order_date > f.first_day), 0) as monetary_cny
from days as d
join firsts as f using (customer_id)
cross join as_of as a
group by d.customer_id, f.first_day
order by d.customer_id
"""


@dg.asset(
    key=model_key("marts.customer_ltv"),
    deps=[model_key("marts.fct_orders")],
    group_name="marts",
    kinds={"duckdb", "python"},
    pool=POOL,
    owners=["team:data-platform"],
    description="Customer lifetime value per unified customer: BG/NBD (purchase days; its no-dropout limit, "
    "the NBD, when the history is too short to show dropout) and Gamma-Gamma "
    "(spend per repeat purchase) fitted on paid consumer orders, in days; the predicted net spend of "
    f"the next {CLV_MONTHS} months, discounted {CLV_MONTHLY_DISCOUNT:.0%} a month. Grain: one row "
    "per customer with a paid consumer order. Model: warehouse/clv.py (validated on CDNOW).",
)
def customer_ltv(context: dg.AssetExecutionContext, omni: OmniResource) -> dg.MaterializeResult:
    started = time.monotonic()
    with omni.build_connection() as conn:
        frame = conn.execute(_CLV_INPUT).df()
        x, t_x, big_t = (frame[c].to_numpy(dtype=float) for c in ("frequency", "recency_days", "t_days"))
        monetary = frame["monetary_cny"].to_numpy(dtype=float)
        metadata: dict[str, Any] = {"customers": len(frame)}
        spend_x = np.where(monetary > 0, x, 0.0)
        try:
            # Gamma-Gamma models positive spend: a repeat fully refunded (net 0) carries no spend
            # information, so such customers count as having no repeat for the spend model
            gamma_gamma = fit_gamma_gamma(spend_x, monetary)
            purchases, predictions = _purchase_model(context, x, t_x, big_t)
        except ClvFitError as exc:  # too little history: say so, predict nothing
            context.log.warning(f"customer_ltv: no model: {exc}")
            metadata["model"] = f"not fitted: {exc}"
            frame["p_alive"] = frame["expected_purchases_12m"] = frame["clv_12m"] = np.nan
        else:
            frame["p_alive"], frame["expected_purchases_12m"] = predictions
            with np.errstate(all="ignore"):
                frame["clv_12m"] = customer_lifetime_value(
                    purchases,
                    gamma_gamma,
                    x,
                    t_x,
                    big_t,
                    monetary,
                    CLV_MONTHS,
                    CLV_MONTHLY_DISCOUNT,
                    spend_frequency=spend_x,
                )
            metadata["model"] = type(purchases).__name__ + " x GammaGamma"
            metadata["purchases"] = _parameters(purchases)
            metadata["gamma_gamma"] = _parameters(gamma_gamma)
        conn.register("clv_frame", frame)
        conn.execute(_write_ltv_sql())
        _comment_ltv(conn)
        metadata["seconds"] = round(time.monotonic() - started, 2)
    return dg.MaterializeResult(metadata=metadata)


def _purchase_model(
    context: dg.AssetExecutionContext, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> tuple[BgNbd | Nbd, tuple[np.ndarray, np.ndarray]]:
    """BG/NBD, or its no-dropout limit the NBD when a short history does not identify dropout: the
    BG/NBD fit then diverges, or lands so near the boundary (huge a and b) that its predictions
    overflow. Returns the model and its (P(alive), expected purchases in 12 months)."""
    try:
        bgnbd = fit_bgnbd(x, t_x, big_t)
        with np.errstate(all="ignore"):
            predictions = bgnbd.p_alive(x, t_x, big_t), bgnbd.expected_purchases(365.25, x, t_x, big_t)
        if all(np.isfinite(p).all() for p in predictions):
            return bgnbd, predictions
        reason = f"its predictions overflow at the fitted a={bgnbd.a:.3g}, b={bgnbd.b:.3g}"
    except ClvFitError as exc:
        reason = str(exc)
    context.log.info(f"customer_ltv: BG/NBD not identified ({reason}); fitting the NBD")
    nbd = fit_nbd(x, t_x, big_t)
    return nbd, (nbd.p_alive(x, t_x, big_t), nbd.expected_purchases(365.25, x, t_x, big_t))


def _parameters(model: object) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in vars(model).items() if isinstance(v, float)}


def _write_ltv_sql() -> str:
    return """
create or replace table marts.customer_ltv as
select
    customer_id,
    cast(frequency as integer) as frequency,
    cast(recency_days as integer) as recency_days,
    cast(t_days as integer) as t_days,
    cast(monetary_cny as decimal(18, 2)) as monetary_cny,
    cast(p_alive as double) as p_alive,
    cast(expected_purchases_12m as double) as expected_purchases_12m,
    cast(round(clv_12m, 2) as decimal(18, 2)) as clv_12m_cny
from clv_frame
"""


_LTV_COMMENTS = {
    "customer_id": "The unified customer.",
    "frequency": "Repeat purchase days (purchase days - 1) on consumer channels.",
    "recency_days": "Days from the first to the last purchase day.",
    "t_days": "Days from the first purchase day to the as-of day (the day after the last order).",
    "monetary_cny": "Mean net value of the repeat purchase days, CNY (0 without a repeat).",
    "p_alive": "BG/NBD probability the customer is still active (1 without a repeat, by the model).",
    "expected_purchases_12m": "BG/NBD expected purchase days in the next 12 months.",
    "clv_12m_cny": "Predicted net spend of the next 12 months (expected purchases x Gamma-Gamma "
    "expected spend, discounted 1 % a month), CNY; null when the model could not be fitted.",
}


def _comment_ltv(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        "comment on table marts.customer_ltv is 'Customer lifetime value (BG/NBD x Gamma-Gamma) per unified "
        "customer with a paid consumer order. Grain: one row per customer_id.'"
    )
    for column, text in _LTV_COMMENTS.items():
        conn.execute(f"comment on column marts.customer_ltv.{column} is {sql_literal(text)}")


CUSTOMER_ASSETS = [customer_accounts, customer_ltv]
