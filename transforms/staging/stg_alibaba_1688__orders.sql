-- grain: one row per 1688 wholesale order (baseInfo.idOfStr), latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id, account_id
-- description: 1688 wholesale orders from alibaba.trade.getSellerOrderList in the canonical order
-- shape. Buyers are businesses (buyerLoginId). The id is idOfStr (64-bit; baseInfo.id, a JSON
-- number, is dropped at landing). Money is yuan; totalAmount is what the buyer pays, shipping
-- included, and 1688 funds no discounts, so it is also the merchant-side GMV. Times are
-- 'yyyyMMddHHmmssSSS+0800', parsed with their offset (absent = not happened). An unpaid order that
-- lapses is 'cancel'; an order refunded in full before shipping is 'cancel' with payTime set and
-- refund = the refunded amount (the sandbox's reading; unverified). The list API has no cancel or
-- refund time: the last modification stands in for both.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.alibaba_1688__orders_latest
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "baseInfo": {"buyerLoginId": "VARCHAR", "status": "VARCHAR", "totalAmount": "VARCHAR", "discount": "VARCHAR", "shippingFee": "VARCHAR", "refund": "VARCHAR", "createTime": "VARCHAR", "payTime": "VARCHAR", "allDeliveredTime": "VARCHAR", "completeTime": "VARCHAR"},
            "productItems": "JSON"
        }') as f
    from latest
),

parsed as (
    select
        -- ids
        channel,
        shop_id,
        record_id as order_id,
        nullif(f."baseInfo"."buyerLoginId", '') as account_id,
        -- status
        f."baseInfo".status as platform_status,
        -- amounts (yuan; exact text, or a JSON number landed as text)
        yuan_to_cny(f."baseInfo"."totalAmount") as total_cny,
        yuan_to_cny(coalesce(f."baseInfo".discount, '0')) as merchant_discount_cny,
        yuan_to_cny(coalesce(f."baseInfo"."shippingFee", '0')) as shipping_cny,
        yuan_to_cny(coalesce(f."baseInfo".refund, '0')) as refund_cny,
        coalesce(json_array_length(f."productItems"), 0) as line_count,
        -- timestamps (yyyyMMddHHmmssSSS+0800; the offset makes them absolute instants)
        strptime(f."baseInfo"."createTime", '%Y%m%d%H%M%S%g%z') as created_at,
        strptime(f."baseInfo"."payTime", '%Y%m%d%H%M%S%g%z') as paid_at,
        strptime(f."baseInfo"."allDeliveredTime", '%Y%m%d%H%M%S%g%z') as shipped_at,
        strptime(f."baseInfo"."completeTime", '%Y%m%d%H%M%S%g%z') as completed_at,
        modified_at
    from fields
),

classified as (
    select
        *,
        platform_status in ('cancel', 'terminated') as closed,
        -- closed after payment means the payment went back: in full
        paid_at is not null and (refund_cny >= total_cny or platform_status in ('cancel', 'terminated'))
            as fully_refunded
    from parsed
),

final as (
    select
        order_id,
        channel,
        shop_id,
        cast(null as varchar) as store_id,
        account_id,
        platform_status,
        case
            when platform_status = 'waitbuyerpay' then 'created'
            when closed and paid_at is null then 'cancelled'
            when fully_refunded then 'refunded'
            when refund_cny > 0 then 'partially_refunded'
            when platform_status = 'success' then 'completed'
            when platform_status in ('waitbuyerreceive', 'waitbuyersign', 'signinsuccess') then 'shipped'
            when platform_status in ('waitsellersend', 'waitsellerconfirm', 'waitsellerpush') then 'paid'
        end as status,
        'CNY' as currency,
        total_cny as order_total_original,
        total_cny as gmv_cny,
        merchant_discount_cny as discount_cny,
        merchant_discount_cny,
        cast(0 as decimal(18, 2)) as platform_discount_cny,
        shipping_cny,
        case when paid_at is not null then total_cny else cast(0 as decimal(18, 2)) end as paid_cny,
        case
            when fully_refunded then greatest(refund_cny, total_cny)
            else refund_cny
        end as refunded_cny,
        line_count,
        false as is_group_buy,
        cast(null as varchar) as group_status,
        false as is_presale,
        created_at,
        paid_at,
        shipped_at,
        case when platform_status = 'success' then completed_at end as completed_at,
        case when closed and paid_at is null then modified_at end as cancelled_at,
        case when refund_cny > 0 or fully_refunded then modified_at end as last_refund_at,
        modified_at
    from classified
)

select * from final
