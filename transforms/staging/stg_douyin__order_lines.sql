-- grain: one row per Douyin sku order (sku_order_id) of a Douyin shop order
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: Douyin sku_order_list lines (sub-field names unverified). Money is integer fen:
-- origin_amount = unit price x quantity, pay_amount = after the shop's line discount (the
-- platform-funded promotion sits on the order). A line is refunded when its after-sales refund
-- succeeded (refund_status 3, unverified).
with latest as (
    select channel, shop_id, record_id, record
    from raw.douyin__orders_latest
),

sku_orders as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        s.sku.sku_order_id as line_id,
        s.sku.out_sku_id as sku,
        s.sku.product_name as title,
        s.sku.item_num as quantity,
        -- origin_amount is unit price x quantity in whole fen: integer division is exact
        fen_to_cny(s.sku.origin_amount // nullif(s.sku.item_num, 0)) as unit_price_cny,
        fen_to_cny(coalesce(s.sku.promotion_shop_amount, 0)) as discount_cny,
        fen_to_cny(s.sku.pay_amount) as line_amount_cny,
        coalesce(s.sku.after_sale_info.refund_status = 3, false) as is_refunded
    from latest as l,
        unnest(from_json(l.record -> '$.sku_order_list',
            '[{"sku_order_id":"VARCHAR","out_sku_id":"VARCHAR","product_name":"VARCHAR","item_num":"INTEGER","origin_amount":"BIGINT","promotion_shop_amount":"BIGINT","pay_amount":"BIGINT","after_sale_info":{"refund_status":"INTEGER"}}]'
        )) as s(sku)
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
        discount_cny,
        line_amount_cny,
        is_refunded
    from sku_orders
)

select * from final
