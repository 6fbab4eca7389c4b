-- grain: one row per Pinduoduo order (order_sn), latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id
-- description: Pinduoduo orders from pdd.order.number.list.increment.get in the canonical order
-- shape. Money is yuan, sent as JSON numbers and landed as exact decimal strings; times are Beijing
-- time with no offset ('' = not happened). The buyer pays pay_amount = goods_amount -
-- discount_amount + postage; the merchant-side GMV adds back the platform-funded
-- platform_discount, which Pinduoduo pays the merchant. A deposit (定金) order whose balance is not
-- paid (step_trade_status < 2) has paid only its deposit, advanced_paid_fee; confirm_status 2 is
-- such an order cancelled with the deposit forfeited. Refunds are whole-order (refund_status 4).
-- PDD has no single status: platform_status keeps the three codes that decide the lifecycle as
-- 'order_status=3,refund_status=1,confirm_status=1'. The order list carries no buyer id.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.pinduoduo__orders_latest
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "group_order_id": "VARCHAR",
            "order_status": "VARCHAR",
            "refund_status": "VARCHAR",
            "confirm_status": "VARCHAR",
            "group_status": "VARCHAR",
            "trade_type": "VARCHAR",
            "step_order_info": {"step_trade_status": "VARCHAR", "advanced_paid_fee": "VARCHAR"},
            "pay_amount": "VARCHAR",
            "platform_discount": "VARCHAR",
            "seller_discount": "VARCHAR",
            "capital_free_discount": "VARCHAR",
            "discount_amount": "VARCHAR",
            "postage": "VARCHAR",
            "item_list": "JSON",
            "created_time": "VARCHAR",
            "pay_time": "VARCHAR",
            "shipping_time": "VARCHAR",
            "receive_time": "VARCHAR",
            "updated_at": "VARCHAR"
        }') as f
    from latest
),

parsed as (
    select
        -- ids
        channel,
        shop_id,
        record_id as order_id,
        nullif(f.group_order_id, '') as group_order_id,
        -- status codes
        cast(f.order_status as integer) as order_status,
        cast(f.refund_status as integer) as refund_status,
        cast(f.confirm_status as integer) as confirm_status,
        cast(f.group_status as integer) as group_status_code,
        cast(f.trade_type as integer) as trade_type,
        cast(f.step_order_info.step_trade_status as integer) as step_trade_status,
        -- amounts (yuan)
        yuan_to_cny(f.pay_amount) as pay_cny,
        yuan_to_cny(coalesce(f.platform_discount, '0')) as platform_discount_cny,
        yuan_to_cny(coalesce(f.seller_discount, '0')) as seller_discount_cny,
        yuan_to_cny(coalesce(f.capital_free_discount, '0')) as capital_free_discount_cny,
        yuan_to_cny(coalesce(f.discount_amount, '0')) as discount_cny,
        yuan_to_cny(coalesce(f.postage, '0')) as shipping_cny,
        yuan_to_cny(f.step_order_info.advanced_paid_fee) as deposit_cny,
        json_array_length(f.item_list) as line_count,
        -- timestamps
        cst_to_utc(f.created_time) as created_at,
        cst_to_utc(f.pay_time) as paid_at,
        cst_to_utc(f.shipping_time) as shipped_at,
        cst_to_utc(f.receive_time) as received_at,
        cst_to_utc(f.updated_at) as updated_at,
        modified_at
    from fields
),

amounts as (
    select
        *,
        cast(pay_cny + platform_discount_cny as decimal(18, 2)) as merchant_total_cny,
        trade_type = 1 and coalesce(step_trade_status, 0) < 2 as awaiting_balance
    from parsed
),

final as (
    select
        order_id,
        channel,
        shop_id,
        cast(null as varchar) as store_id,
        cast(null as varchar) as account_id,
        'order_status=' || order_status || ',refund_status=' || refund_status
            || ',confirm_status=' || confirm_status as platform_status,
        case
            when confirm_status = 2 then 'cancelled'
            when refund_status = 4 then 'refunded'
            when order_status = 3 then 'completed'
            when order_status = 2 then 'shipped'
            when order_status = 1 then 'paid'
        end as status,
        'CNY' as currency,
        merchant_total_cny as order_total_original,
        merchant_total_cny as gmv_cny,
        discount_cny,
        -- 团长免单 (capital_free_discount) is a leader's free order the shop grants: the merchant's
        cast(seller_discount_cny + capital_free_discount_cny as decimal(18, 2)) as merchant_discount_cny,
        platform_discount_cny,
        shipping_cny,
        case
            when paid_at is null then cast(0 as decimal(18, 2))
            when awaiting_balance then coalesce(deposit_cny, 0)
            else merchant_total_cny
        end as paid_cny,
        case when refund_status = 4 then merchant_total_cny else cast(0 as decimal(18, 2)) end as refunded_cny,
        line_count,
        group_order_id is not null as is_group_buy,
        case group_status_code when 0 then 'forming' when 1 then 'formed' when 2 then 'failed' end
            as group_status,
        coalesce(trade_type = 1, false) as is_presale,
        created_at,
        paid_at,
        shipped_at,
        case when order_status = 3 then received_at end as completed_at,
        -- the list API has no cancel or refund time: the last update is the closest we have
        case when confirm_status = 2 then updated_at end as cancelled_at,
        case when refund_status = 4 then updated_at end as last_refund_at,
        modified_at
    from amounts
)

select * from final
