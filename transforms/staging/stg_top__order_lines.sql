-- grain: one row per TOP sub-order (oid) of a Tmall or Taobao trade
-- key: channel, order_id, line_id
-- incremental: order_id
-- not_null: quantity, line_amount_cny
-- description: TOP sub-orders. `line_amount_cny` is the sub-order's payment: for a single-line
-- trade TOP folds the postage into it, for multi-line trades it excludes postage.
with latest as (
    select channel, shop_id, record_id, record
    from raw.top__orders_latest
),

sub_orders as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        s.sub.oid as line_id,
        s.sub.outer_sku_id as sku,
        s.sub.title,
        s.sub.num as quantity,
        yuan_to_cny(s.sub.price) as unit_price_cny,
        yuan_to_cny(coalesce(s.sub.discount_fee, '0')) as discount_cny,
        yuan_to_cny(s.sub.payment) as line_amount_cny,
        s.sub.refund_status = 'SUCCESS' as is_refunded
    from latest as l,
        unnest(from_json(l.record -> '$.orders.order',
            '[{"oid":"VARCHAR","outer_sku_id":"VARCHAR","title":"VARCHAR","num":"INTEGER","price":"VARCHAR","discount_fee":"VARCHAR","payment":"VARCHAR","refund_status":"VARCHAR"}]'
        )) as s(sub)
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
    from sub_orders
)

select * from final
