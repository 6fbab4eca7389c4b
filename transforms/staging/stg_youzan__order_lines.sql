-- grain: one row per line item (orders[] entry, oid) of a Youzan mini-program store order
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: Youzan order lines. price is the unit price, discount the shop's discount on the
-- line and payment the line amount after it, all yuan strings. Lines are refunded whole: a line is
-- refunded when its refund_state is 2 (unverified), or when the order was closed after payment.
with latest as (
    select channel, shop_id, record_id, record
    from raw.youzan__orders_latest
),

lines as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        i.line.oid as line_id,
        i.line.outer_sku_id as sku,
        i.line.title as title,
        i.line.num as quantity,
        yuan_to_cny(i.line.price) as unit_price_cny,
        coalesce(yuan_to_cny(i.line.discount), 0) as discount_cny,
        yuan_to_cny(i.line.payment) as line_amount_cny,
        coalesce(i.line.refund_state = 2, false)
            or ((l.record ->> '$.order_info.status') = 'TRADE_CLOSED'
                and coalesce(l.record ->> '$.order_info.pay_time', '') <> '') as is_refunded
    from latest as l,
        unnest(from_json(l.record -> '$.orders',
            '[{"oid":"VARCHAR","outer_sku_id":"VARCHAR","title":"VARCHAR","num":"INTEGER","price":"VARCHAR","discount":"VARCHAR","payment":"VARCHAR","refund_state":"INTEGER"}]'
        )) as i(line)
),

final as (
    select
        order_id,
        channel,
        shop_id,
        line_id,
        sku,
        title,
        quantity,
        unit_price_cny,
        cast(discount_cny as decimal(18, 2)) as discount_cny,
        line_amount_cny,
        is_refunded
    from lines
)

select * from final
