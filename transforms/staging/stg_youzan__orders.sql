-- grain: one row per Youzan order (order_info.tid) of the brand's mini-program store, latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id
-- description: Mini-program store orders from Youzan youzan.trades.sold.get in the canonical order
-- shape. Money is yuan strings, times Beijing time with no offset ('' = not happened). The brand's
-- own store has no platform-funded discount: what the buyer pays (pay_info.payment = goods before
-- discount - the shop's discounts + postage) is the merchant-side GMV. A full refund closes the
-- order (TRADE_CLOSED with pay_time kept, order_info.refund_state 2); a partial one refunds whole
-- lines (orders[].refund_state 2, order refund_state 1) and the order keeps its progress status.
-- The refund-state codes are unverified (sandbox choices).
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.youzan__orders_latest
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "buyer_info": {"yz_open_id": "VARCHAR"},
            "order_info": {"status": "VARCHAR", "refund_state": "VARCHAR", "created": "VARCHAR", "pay_time": "VARCHAR", "consign_time": "VARCHAR", "success_time": "VARCHAR", "update_time": "VARCHAR"},
            "pay_info": {"payment": "VARCHAR", "total_fee": "VARCHAR", "post_fee": "VARCHAR"},
            "orders": "JSON"
        }') as f
    from latest
),

parsed as (
    select
        -- ids
        channel,
        shop_id,
        record_id as order_id,
        nullif(f.buyer_info.yz_open_id, '') as account_id,
        -- status
        f.order_info.status as platform_status,
        coalesce(cast(f.order_info.refund_state as integer), 0) as refund_state,
        -- amounts (yuan strings)
        yuan_to_cny(f.pay_info.payment) as payment_cny,
        yuan_to_cny(f.pay_info.total_fee) as goods_before_discount_cny,
        yuan_to_cny(f.pay_info.post_fee) as shipping_cny,
        f.orders as lines,
        -- timestamps (Beijing time strings)
        cst_to_utc(f.order_info.created) as created_at,
        cst_to_utc(f.order_info.pay_time) as paid_at,
        cst_to_utc(f.order_info.consign_time) as shipped_at,
        cst_to_utc(f.order_info.success_time) as succeeded_at,
        cst_to_utc(f.order_info.update_time) as updated_at,
        modified_at
    from fields
),

line_totals as (
    -- each order's lines counted and summed on its own row, from its own list (unnesting them and
    -- joining the sums back by key cost most of an order model: stg_top__orders)
    select
        *,
        len(line_list) as line_count,
        len(list_filter(line_list, l -> l.refund_state = 2)) as refunded_line_count,
        list_sum([yuan_to_cny(l.payment) for l in line_list if l.refund_state = 2]) as refunded_lines_cny
    from (
        select *, from_json(lines, '[{"payment":"VARCHAR","refund_state":"INTEGER"}]') as line_list
        from parsed
    )
),

amounts as (
    select
        t.* exclude (line_list, line_count, refunded_line_count, refunded_lines_cny),
        coalesce(t.line_count, 0) as line_count,
        coalesce(t.refunded_line_count, 0) as refunded_line_count,
        coalesce(t.refunded_lines_cny, 0) as refunded_lines_cny,
        -- every line refunded (postage included), or closed after payment: the whole order
        t.refund_state = 2
            or (t.platform_status = 'TRADE_CLOSED' and t.paid_at is not null)
            or (t.line_count > 0 and t.refunded_line_count = t.line_count) as fully_refunded
    from line_totals as t
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
            when platform_status = 'WAIT_BUYER_PAY' then 'created'
            when platform_status = 'TRADE_CLOSED' and paid_at is null then 'cancelled'
            when fully_refunded then 'refunded'
            when refund_state = 1 or refunded_line_count > 0 then 'partially_refunded'
            when platform_status = 'TRADE_SUCCESS' then 'completed'
            -- TRADE_BUYER_SIGNED (seen in one client): received, not yet confirmed
            when platform_status in ('WAIT_BUYER_CONFIRM_GOODS', 'TRADE_BUYER_SIGNED') then 'shipped'
            when platform_status = 'WAIT_SELLER_SEND_GOODS' then 'paid'
        end as status,
        'CNY' as currency,
        payment_cny as order_total_original,
        payment_cny as gmv_cny,
        cast(goods_before_discount_cny + shipping_cny - payment_cny as decimal(18, 2)) as discount_cny,
        cast(goods_before_discount_cny + shipping_cny - payment_cny as decimal(18, 2)) as merchant_discount_cny,
        cast(0 as decimal(18, 2)) as platform_discount_cny,
        shipping_cny,
        case when paid_at is not null then payment_cny else cast(0 as decimal(18, 2)) end as paid_cny,
        case
            when fully_refunded then payment_cny
            else cast(refunded_lines_cny as decimal(18, 2))
        end as refunded_cny,
        line_count,
        false as is_group_buy,
        cast(null as varchar) as group_status,
        false as is_presale,
        created_at,
        paid_at,
        shipped_at,
        succeeded_at as completed_at,
        -- the list API has no close or refund time: the last update is the closest we have
        case when platform_status = 'TRADE_CLOSED' and paid_at is null then updated_at end as cancelled_at,
        case when fully_refunded or refund_state = 1 or refunded_line_count > 0 then updated_at end
            as last_refund_at,
        modified_at
    from amounts
)

select * from final
