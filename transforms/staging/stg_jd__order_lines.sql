-- grain: one row per item (itemInfoList entry) of a JD order
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: JD order items. enSearch gives the list price (jdPrice) and quantity per item; the
-- shop's per-item discounts come in couponDetailList keyed by the item's JD skuId, so the line
-- amount is price x quantity less those. JD-funded coupons are order-level and not allocated.
with latest as (
    select channel, shop_id, record_id, record
    from raw.jd__orders_latest
),

items as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        i.item.productNo as line_id,
        i.item.skuId as jd_sku_id,
        i.item.outerSkuId as sku,
        i.item.skuName as title,
        cast(i.item.itemTotal as integer) as quantity,
        yuan_to_cny(i.item.jdPrice) as unit_price_cny,
        l.record
    from latest as l,
        unnest(from_json(l.record -> '$.itemInfoList',
            '[{"productNo":"VARCHAR","skuId":"VARCHAR","outerSkuId":"VARCHAR","skuName":"VARCHAR","itemTotal":"VARCHAR","jdPrice":"VARCHAR"}]'
        )) as i(item)
),

shop_coupons as (
    -- seller-funded coupons name the item's SKU; JD-funded ones (type 41) do not
    select
        l.channel,
        l.record_id as order_id,
        c.coupon.skuId as jd_sku_id,
        sum(yuan_to_cny(c.coupon.couponPrice)) as discount_cny
    from latest as l,
        unnest(from_json(l.record -> '$.couponDetailList',
            '[{"skuId":"VARCHAR","couponType":"VARCHAR","couponPrice":"VARCHAR"}]'
        )) as c(coupon)
    where c.coupon.skuId <> ''
    group by all
),

final as (
    select
        i.order_id,
        i.channel,
        i.shop_id,
        i.line_id,
        i.sku,
        i.title,
        i.quantity,
        i.unit_price_cny,
        coalesce(c.discount_cny, 0) as discount_cny,
        cast(i.unit_price_cny * i.quantity - coalesce(c.discount_cny, 0) as decimal(18, 2)) as line_amount_cny,
        -- an order refunded before shipping is refunded whole
        (i.record ->> '$.orderState') = 'TRADE_CANCELED' and (i.record ->> '$.paymentConfirmTime') <> ''
            as is_refunded
    from items as i
    left join shop_coupons as c on i.channel = c.channel and i.order_id = c.order_id and i.jd_sku_id = c.jd_sku_id
)

select * from final
