-- grain: one row per Shopify order, latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id
-- description: Shopify REST orders in the canonical order shape. Amounts are the shop currency
-- (CNY: the store's base currency); the buyer's presentment currency and amount are kept beside.
with latest as (
    select channel, shop_id, record_id, modified_at, status, record
    from raw.shopify__orders_latest
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "customer": {"id": "VARCHAR"},
            "financial_status": "VARCHAR",
            "fulfillment_status": "VARCHAR",
            "total_price_set": {"shop_money": {"currency_code": "VARCHAR", "amount": "VARCHAR"}, "presentment_money": {"amount": "VARCHAR"}},
            "presentment_currency": "VARCHAR",
            "total_discounts": "VARCHAR",
            "total_shipping_price_set": {"shop_money": {"amount": "VARCHAR"}},
            "line_items": "JSON",
            "refunds": "JSON",
            "created_at": "VARCHAR",
            "processed_at": "VARCHAR",
            "closed_at": "VARCHAR",
            "cancelled_at": "VARCHAR"
        }') as f
    from latest
),

parsed as (
    select
        -- ids
        channel,
        shop_id,
        record_id as order_id,
        f.customer.id as account_id,
        -- platform status
        f.financial_status as financial_status,
        f.fulfillment_status as fulfillment_status,
        -- amounts
        f.total_price_set.shop_money.currency_code as shop_currency,
        f.presentment_currency as presentment_currency,
        yuan_to_cny(f.total_price_set.shop_money.amount) as total_cny,
        yuan_to_cny(f.total_price_set.presentment_money.amount) as total_presentment,
        yuan_to_cny(coalesce(f.total_discounts, '0')) as discount_cny,
        yuan_to_cny(coalesce(f.total_shipping_price_set.shop_money.amount, '0')) as shipping_cny,
        json_array_length(f.line_items) as line_count,
        f.refunds as refunds,
        -- timestamps (ISO-8601 with the shop's own offset)
        cast(f.created_at as timestamptz) as created_at,
        cast(f.processed_at as timestamptz) as processed_at,
        cast(record ->> '$.fulfillments[0].created_at' as timestamptz) as shipped_at,
        cast(f.closed_at as timestamptz) as closed_at,
        cast(f.cancelled_at as timestamptz) as cancelled_at,
        modified_at
    from fields
),

refund_totals as (
    -- a refund's money is in its transactions; only successful refund transactions moved money. Each
    -- order's summed on its own row, from its own list (unnesting them and joining the sums back by key
    -- cost most of an order model: stg_top__orders)
    select
        *,
        list_sum(flatten([
            [yuan_to_cny(t.amount) for t in r.transactions if t.kind = 'refund' and t.status = 'success']
            for r in refund_list
        ])) as refunded_cny,
        list_max([
            cast(r.created_at as timestamptz) for r in refund_list
            if len(list_filter(r.transactions, t -> t.kind = 'refund' and t.status = 'success')) > 0
        ]) as last_refund_at
    from (
        select *, from_json(refunds,
            '[{"created_at":"VARCHAR","transactions":[{"amount":"VARCHAR","kind":"VARCHAR","status":"VARCHAR"}]}]'
        ) as refund_list
        from parsed
    )
),

final as (
    select
        p.order_id,
        p.channel,
        p.shop_id,
        cast(null as varchar) as store_id,
        p.account_id,
        p.financial_status || '/' || coalesce(p.fulfillment_status, 'unfulfilled') as platform_status,
        case
            when p.cancelled_at is not null and p.financial_status in ('pending', 'voided') then 'cancelled'
            when p.financial_status = 'refunded' then 'refunded'
            when p.financial_status = 'partially_refunded' then 'partially_refunded'
            when p.closed_at is not null then 'completed'
            when p.fulfillment_status = 'fulfilled' then 'shipped'
            when p.financial_status in ('paid', 'partially_paid') then 'paid'
            when p.financial_status in ('pending', 'authorized') then 'created'
        end as status,
        p.presentment_currency as currency,
        p.total_presentment as order_total_original,
        p.total_cny as gmv_cny,
        p.discount_cny,
        p.shipping_cny,
        -- money moved only once captured: pending/authorized/voided orders paid nothing
        case when p.financial_status in ('paid', 'partially_refunded', 'refunded') then p.total_cny
             else cast(0 as decimal(18, 2)) end as paid_cny,
        coalesce(p.refunded_cny, cast(0 as decimal(18, 2))) as refunded_cny,
        p.line_count,
        p.created_at,
        case when p.financial_status in ('paid', 'partially_refunded', 'refunded')
             then coalesce(p.processed_at, p.created_at) end as paid_at,
        p.shipped_at,
        p.closed_at as completed_at,
        p.cancelled_at,
        p.last_refund_at,
        p.modified_at,
        p.shop_currency
    from refund_totals as p
)

select * exclude (shop_currency) from final
