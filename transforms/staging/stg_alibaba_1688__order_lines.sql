-- grain: one row per product item (productItems entry) of a 1688 wholesale order
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: sku, quantity, line_amount_cny
-- description: 1688 order items. line_id is subItemIDString (64-bit; the numeric subItemID is
-- dropped at landing), sku the seller's cargoNumber. price is the unit price and itemAmount what
-- the line comes to after the seller's discounts, both yuan. A line is refunded when its
-- refundStatus is refundsuccess, or when the whole order was closed after payment.
with latest as (
    select channel, shop_id, record_id, record
    from raw.alibaba_1688__orders_latest
),

items as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        i.item.subItemIDString as line_id,
        i.item.cargoNumber as sku,
        i.item.name as title,
        cast(i.item.quantity as integer) as quantity,
        yuan_to_cny(i.item.price) as unit_price_cny,
        yuan_to_cny(i.item.itemAmount) as line_amount_cny,
        i.item.refundStatus = 'refundsuccess' as line_refunded,
        (l.record ->> '$.baseInfo.status') in ('cancel', 'terminated')
            and (l.record ->> '$.baseInfo.payTime') is not null as order_refunded
    from latest as l,
        unnest(from_json(l.record -> '$.productItems',
            '[{"subItemIDString":"VARCHAR","cargoNumber":"VARCHAR","name":"VARCHAR","quantity":"VARCHAR","price":"VARCHAR","itemAmount":"VARCHAR","refundStatus":"VARCHAR"}]'
        )) as i(item)
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
        cast(unit_price_cny * quantity - line_amount_cny as decimal(18, 2)) as discount_cny,
        line_amount_cny,
        coalesce(line_refunded, false) or order_refunded as is_refunded
    from items
)

select * from final
