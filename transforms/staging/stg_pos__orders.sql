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

parsed as (
    select
        channel,
        shop_id,
        record_id as order_id,
        record ->> '$.store_id' as store_id,
        record ->> '$.member_id' as account_id,
        record ->> '$.status' as platform_status,
        fen_to_cny(record ->> '$.total_fen') as gmv_cny,
        fen_to_cny(coalesce(record ->> '$.discount_fen', '0')) as discount_cny,
        fen_to_cny(record ->> '$.paid_fen') as paid_cny,
        fen_to_cny(coalesce(record ->> '$.refunded_fen', '0')) as refunded_cny,
        json_array_length(record -> '$.lines') as line_count,
        cast(record ->> '$.sold_at' as timestamptz) as created_at,
        cast(record ->> '$.refunded_at' as timestamptz) as last_refund_at,
        modified_at
    from latest
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
