-- grain: one row per item (item_list entry) of a Pinduoduo order
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: Pinduoduo order items. item_list gives the unit price (goods_price, yuan) and the
-- count; PDD has no item id, so line_id is order_sn:sku_id. The shop's discount (seller_discount)
-- is order-level: it is put on the item when the order has one item (every group buy does) and
-- not allocated otherwise. A refund is whole-order (refund_status 4 marks every item refunded).
with latest as (
    select channel, shop_id, record_id, record
    from raw.pinduoduo__orders_latest
),

items as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        l.record_id || ':' || i.item.sku_id as line_id,
        i.item.outer_id as sku,
        i.item.goods_name as title,
        i.item.goods_count as quantity,
        yuan_to_cny(i.item.goods_price) as unit_price_cny,
        json_array_length(l.record -> '$.item_list') as item_count,
        yuan_to_cny(coalesce(l.record ->> '$.seller_discount', '0')) as seller_discount_cny,
        cast(l.record ->> '$.refund_status' as integer) = 4 as is_refunded
    from latest as l,
        unnest(from_json(l.record -> '$.item_list',
            '[{"sku_id":"VARCHAR","outer_id":"VARCHAR","goods_name":"VARCHAR","goods_count":"INTEGER","goods_price":"VARCHAR"}]'
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
        case when item_count = 1 then seller_discount_cny else cast(0 as decimal(18, 2)) end as discount_cny,
        cast(unit_price_cny * quantity
            - case when item_count = 1 then seller_discount_cny else 0 end as decimal(18, 2)) as line_amount_cny,
        is_refunded
    from items
)

select * from final
