-- grain: one row per order on any channel, as staging mapped it
-- key: channel, order_id
-- not_null: shop_id
-- materialized: view
-- description: Every channel's staging orders in one shape, each with the reason it cannot be published, if any. An order whose platform status is not in its channel's mapping, whose required amounts or creation time do not parse, goes to audit.quarantine instead of marts.fct_orders: one bad record never blocks the other orders or channels.
-- column quarantine_reason: Why the order cannot be mapped (first that applies), null when it can.
with orders as (
    -- (a view: the staging tables in one shape cost little to read where they are read, while a copy
    -- of every order took each nightly run seconds to write; marts.fct_orders is the analysts' table)
    -- one line per source: each staging model maps its platform into the canonical order shape
    select * from staging.stg_shopify__orders
    union all by name
    select * from staging.stg_top__orders
    union all by name
    select * from staging.stg_jd__orders
    union all by name
    select * from staging.stg_pinduoduo__orders
    union all by name
    select * from staging.stg_douyin__orders
    union all by name
    select * from staging.stg_youzan__orders
    union all by name
    select * from staging.stg_alibaba_1688__orders
    union all by name
    select * from staging.stg_meituan__orders
    union all by name
    select * from staging.stg_pos__orders
),

checked as (
    -- the canonical shape's required fields; staging leaves them null when the platform's value
    -- is unknown to its mapping or does not parse (try_cast / try_strptime in the macros)
    select
        *,
        case
            when created_at is null then 'creation time missing or unreadable'
            when status is null then 'unknown platform status ' || coalesce('''' || platform_status || '''', 'null')
            when gmv_cny is null or paid_cny is null or refunded_cny is null then 'an amount is missing or unreadable'
        end as quarantine_reason
    from orders
)

select * from checked
