-- grain: one row per store sale (POS sale_id), latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id, store_id
-- description: Offline store sales from the POS database. A sale is paid at the till; returns
-- come back days later. Money is integer fen in the POS; anonymous walk-in sales have no member.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.pos__orders_latest
),

status_map(platform_status, status) as (
    values ('COMPLETED', 'completed'), ('RETURNED', 'refunded'), ('PART_RETURNED', 'partially_refunded')
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "store_id": "VARCHAR",
            "member_id": "VARCHAR",
            "status": "VARCHAR",
            "total_fen": "VARCHAR",
            "discount_fen": "VARCHAR",
            "paid_fen": "VARCHAR",
            "refunded_fen": "VARCHAR",
            "lines": "JSON",
            "sold_at": "VARCHAR",
            "refunded_at": "VARCHAR"
        }') as f
    from latest
),

parsed as (
    select
        channel,
        shop_id,
        record_id as order_id,
        f.store_id as store_id,
        f.member_id as account_id,
        f.status as platform_status,
        fen_to_cny(f.total_fen) as gmv_cny,
        fen_to_cny(coalesce(f.discount_fen, '0')) as discount_cny,
        fen_to_cny(f.paid_fen) as paid_cny,
        fen_to_cny(coalesce(f.refunded_fen, '0')) as refunded_cny,
        json_array_length(f.lines) as line_count,
        cast(f.sold_at as timestamptz) as created_at,
        cast(f.refunded_at as timestamptz) as last_refund_at,
        modified_at
    from fields
),

final as (
    select
        p.order_id,
        p.channel,
        p.shop_id,
        p.store_id,
        p.account_id,
        p.platform_status,
        m.status,
        'CNY' as currency,
        p.gmv_cny as order_total_original,
        p.gmv_cny,
        p.discount_cny,
        cast(0 as decimal(18, 2)) as shipping_cny,
        p.paid_cny,
        p.refunded_cny,
        p.line_count,
        p.created_at,
        p.created_at as paid_at,
        cast(null as timestamptz) as shipped_at,
        p.created_at as completed_at,
        cast(null as timestamptz) as cancelled_at,
        p.last_refund_at,
        p.modified_at
    from parsed as p
    left join status_map as m on p.platform_status = m.platform_status
)

select * from final
