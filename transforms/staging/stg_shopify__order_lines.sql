-- grain: one row per line item of a Shopify order (latest order version)
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: Shopify line items; a line counts as refunded when a refund names it.
with latest as (
    select channel, shop_id, record_id, record
    from raw.shopify__orders_latest
),

lines as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        li.item.id as line_id,
        li.item.sku,
        li.item.title,
        li.item.quantity,
        yuan_to_cny(li.item.price) as unit_price_cny,
        yuan_to_cny(coalesce(li.item.total_discount, '0')) as discount_cny
    from latest as l,
        unnest(from_json(l.record -> '$.line_items',
            '[{"id":"VARCHAR","sku":"VARCHAR","title":"VARCHAR","quantity":"INTEGER","price":"VARCHAR","total_discount":"VARCHAR"}]'
        )) as li(item)
),

refunded_lines as (
    select distinct l.channel, l.record_id as order_id, rli.item.line_item_id as line_id
    from latest as l,
        unnest(from_json(l.record -> '$.refunds', '[{"refund_line_items":[{"line_item_id":"VARCHAR"}]}]')) as r(refund),
        unnest(r.refund.refund_line_items) as rli(item)
),

final as (
    select
        lines.order_id,
        lines.channel,
        lines.shop_id,
        lines.line_id,
        lines.sku,
        lines.title,
        lines.quantity,
        lines.unit_price_cny,
        lines.discount_cny,
        cast(lines.unit_price_cny * lines.quantity - lines.discount_cny as decimal(18, 2)) as line_amount_cny,
        refunded_lines.line_id is not null as is_refunded
    from lines
    left join refunded_lines using (channel, order_id, line_id)
)

select * from final
