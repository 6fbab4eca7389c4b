-- grain: one row per line of a store sale
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: POS sale lines; `is_refunded` marks lines returned at the till.
with latest as (
    select channel, shop_id, record_id, record
    from raw.pos__orders_latest
),

lines as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        cast(x.line.line_no as varchar) as line_id,
        x.line.sku,
        x.line.title,
        x.line.quantity,
        fen_to_cny(x.line.unit_price_fen) as unit_price_cny,
        fen_to_cny(coalesce(x.line.discount_fen, 0)) as discount_cny,
        fen_to_cny(x.line.amount_fen) as line_amount_cny,
        coalesce(x.line.returned, false) as is_refunded
    from latest as l,
        unnest(from_json(l.record -> '$.lines',
            '[{"line_no":"INTEGER","sku":"VARCHAR","title":"VARCHAR","quantity":"INTEGER","unit_price_fen":"BIGINT","discount_fen":"BIGINT","amount_fen":"BIGINT","returned":"BOOLEAN"}]'
        )) as x(line)
),

final as (
    select
        order_id, channel, shop_id, line_id, sku, title, quantity,
        unit_price_cny, discount_cny, line_amount_cny, is_refunded
    from lines
)

select * from final
