-- grain: one row per deal line (detail[]) of a Meituan O2O voucher order
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: Meituan order detail lines (field names unverified): one deal, quantity = vouchers
-- bought, price = one voucher's price in integer fen; Meituan lines carry no id, so line_id is the
-- line's position (1, 2, ...). A line is refunded when every voucher of the order was refunded or
-- expired (vouchers belong to the order's one deal).
with latest as (
    select channel, shop_id, record_id, record
    from raw.meituan__orders_latest
),

vouchers as (
    select
        l.channel,
        l.record_id as order_id,
        bool_and(c.v.status in ('refunded', 'expired')) as all_refunded
    from latest as l,
        unnest(from_json(l.record -> '$.coupons', '[{"status":"VARCHAR"}]')) as c(v)
    group by l.channel, l.record_id
),

detail_lists as (
    select
        channel,
        shop_id,
        record_id as order_id,
        from_json(record -> '$.detail',
            '[{"deal_id":"VARCHAR","deal_name":"VARCHAR","quantity":"INTEGER","price":"BIGINT"}]') as lines
    from latest
),

details as (
    select
        channel,
        shop_id,
        order_id,
        unnest(lines) as line,
        generate_subscripts(lines, 1) as position
    from detail_lists
),

final as (
    select
        d.order_id,
        d.channel,
        d.shop_id,
        cast(d.position as varchar) as line_id,
        d.line.deal_id as sku,
        d.line.deal_name as title,
        d.line.quantity,
        fen_to_cny(d.line.price) as unit_price_cny,
        cast(0 as decimal(18, 2)) as discount_cny,
        fen_to_cny(d.line.price * d.line.quantity) as line_amount_cny,
        coalesce(v.all_refunded, false) as is_refunded
    from details as d
    left join vouchers as v on d.channel = v.channel and d.order_id = v.order_id
)

select * from final
