-- grain: one row per JD POP order (orderId), latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id
-- description: JD orders from JOS enSearch (SOP) and fbp.search (FBP) in the canonical order shape. Every JD value is a string;
-- money is yuan strings, times Beijing time with no offset. JD shows the merchant an order once it
-- is paid, and an order refunded before it shipped as TRADE_CANCELED with its payment time set.
-- JD's merchant-side amount is orderSellerPrice (goods after the shop's discounts) + freight; the
-- buyer paid orderPayment, the difference being JD-funded coupons the platform pays the merchant.
-- After-sales refunds are not in enSearch (JD's after-sales API is not pulled yet).
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.jd__orders_latest
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "open_id_buyer": "VARCHAR",
            "orderState": "VARCHAR",
            "orderType": "VARCHAR",
            "orderTotalPrice": "VARCHAR",
            "orderSellerPrice": "VARCHAR",
            "sellerDiscount": "VARCHAR",
            "freightPrice": "VARCHAR",
            "orderPayment": "VARCHAR",
            "itemInfoList": "JSON",
            "orderStartTime": "VARCHAR",
            "paymentConfirmTime": "VARCHAR",
            "orderEndTime": "VARCHAR"
        }') as f
    from latest
),

parsed as (
    select
        -- ids
        channel,
        shop_id,
        record_id as order_id,
        nullif(f.open_id_buyer, '') as account_id,
        -- status and kind
        f."orderState" as platform_status,
        f."orderType" as order_type,
        -- amounts (yuan strings)
        yuan_to_cny(f."orderTotalPrice") as goods_before_discount_cny,
        yuan_to_cny(f."orderSellerPrice") as seller_price_cny,
        yuan_to_cny(f."sellerDiscount") as merchant_discount_cny,
        yuan_to_cny(f."freightPrice") as shipping_cny,
        yuan_to_cny(f."orderPayment") as buyer_paid_cny,
        json_array_length(f."itemInfoList") as line_count,
        -- timestamps (Beijing time strings, '' when not happened)
        cst_to_utc(f."orderStartTime") as created_at,
        cst_to_utc(f."paymentConfirmTime") as paid_at,
        cst_to_utc(f."orderEndTime") as ended_at,
        modified_at
    from fields
),

amounts as (
    select
        *,
        cast(seller_price_cny + shipping_cny as decimal(18, 2)) as merchant_total_cny,
        cast(seller_price_cny + shipping_cny - buyer_paid_cny as decimal(18, 2)) as platform_discount_cny
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
            when platform_status = 'TRADE_CANCELED' and paid_at is not null then 'refunded'
            when platform_status = 'TRADE_CANCELED' then 'cancelled'
            when platform_status = 'FINISHED_L' then 'completed'
            when platform_status = 'WAIT_GOODS_RECEIVE_CONFIRM' then 'shipped'
            when platform_status in ('WAIT_SELLER_STOCK_OUT', 'WAIT_SELLER_DELIVERY', 'PAUSE', 'POP_ORDER_PAUSE', 'LOCKED')
                then 'paid'
        end as status,
        'CNY' as currency,
        merchant_total_cny as order_total_original,
        merchant_total_cny as gmv_cny,
        cast(merchant_discount_cny + platform_discount_cny as decimal(18, 2)) as discount_cny,
        merchant_discount_cny,
        platform_discount_cny,
        shipping_cny,
        case when paid_at is not null then merchant_total_cny else cast(0 as decimal(18, 2)) end as paid_cny,
        case
            when platform_status = 'TRADE_CANCELED' and paid_at is not null then merchant_total_cny
            else cast(0 as decimal(18, 2))
        end as refunded_cny,
        line_count,
        false as is_group_buy,
        cast(null as varchar) as group_status,
        false as is_presale,
        -- orderType 22 (SOP): the merchant ships; 21 (FBP, from fbp.search): stocked in JD's
        -- warehouses, JD ships and invoices (codes unverified)
        order_type = '21' as is_platform_delivered,
        created_at,
        paid_at,
        -- JD has no separate ship time in enSearch
        cast(null as timestamptz) as shipped_at,
        case when platform_status = 'FINISHED_L' then ended_at end as completed_at,
        case when platform_status = 'TRADE_CANCELED' and paid_at is null then ended_at end as cancelled_at,
        case when platform_status = 'TRADE_CANCELED' and paid_at is not null then ended_at end as last_refund_at,
        modified_at
    from amounts
)

select * from final
