-- grain: one row per Meituan O2O voucher order (order_id), latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id, store_id
-- description: Meituan 团购 voucher orders from order/getOrderDetail in the canonical order shape
-- (field names unverified). An order buys one or more vouchers (coupons[]) of one deal for a store
-- and is paid at purchase; money is integer fen, times epoch seconds (0 = not happened). store_id
-- is the purchase store, mapped from app_poi_code by the connector (its app_poi_codes option). Each
-- voucher is redeemed (核销) in a store, refunded by the buyer, or expires and is refunded
-- automatically: refunded = the price of every refunded or expired voucher. Status: every voucher
-- refunded -> refunded; some -> partially_refunded; every voucher redeemed -> completed (at the
-- last redemption); else paid. Revenue by redemption is in stg_meituan__voucher_redemptions.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.meituan__orders_latest
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "store_id": "VARCHAR",
            "user_id": "VARCHAR",
            "status": "VARCHAR",
            "total": "VARCHAR",
            "original_price": "VARCHAR",
            "detail": "JSON",
            "coupons": "JSON",
            "ctime": "VARCHAR"
        }') as f
    from latest
),

parsed as (
    select
        -- ids
        channel,
        shop_id,
        record_id as order_id,
        f.store_id as store_id,
        nullif(f.user_id, '') as account_id,
        -- status (the code kept as text, e.g. '8')
        f.status as platform_status,
        -- amounts (integer fen)
        cast(f.total as bigint) as total_fen,
        cast(f.original_price as bigint) as original_fen,
        cast(json_array_length(f.detail) as integer) as line_count,
        f.coupons as coupons,
        -- timestamps (epoch seconds)
        epoch_to_utc(f.ctime) as created_at,
        modified_at
    from fields
),

vouchers as (
    -- each order's vouchers counted and summed on its own row, from its own list (unnesting them and
    -- joining the sums back by key cost most of an order model: stg_top__orders)
    select
        *,
        len(voucher_list) as voucher_count,
        len(list_filter(voucher_list, v -> v.status = 'redeemed')) as redeemed_count,
        len(list_filter(voucher_list, v -> v.status in ('refunded', 'expired'))) as refunded_count,
        list_sum([v.price for v in voucher_list if v.status in ('refunded', 'expired')]) as refunded_fen,
        list_max([greatest(v.use_time, v.refund_time) for v in voucher_list]) as last_settled_epoch,
        list_max([v.refund_time for v in voucher_list]) as last_refund_epoch
    from (
        select *, from_json(coupons,
            '[{"status":"VARCHAR","price":"BIGINT","use_time":"BIGINT","refund_time":"BIGINT"}]'
        ) as voucher_list
        from parsed
    )
),

amounts as (
    select
        v.* exclude (voucher_list, voucher_count, redeemed_count, refunded_count, refunded_fen),
        coalesce(v.voucher_count, 0) as voucher_count,
        coalesce(v.redeemed_count, 0) as redeemed_count,
        coalesce(v.refunded_count, 0) as refunded_count,
        coalesce(v.refunded_fen, 0) as refunded_fen
    from vouchers as v
),

final as (
    select
        order_id,
        channel,
        shop_id,
        store_id,
        account_id,
        platform_status,
        case
            when voucher_count > 0 and refunded_count = voucher_count then 'refunded'
            when refunded_count > 0 then 'partially_refunded'
            when voucher_count > 0 and redeemed_count = voucher_count then 'completed'
            else 'paid'
        end as status,
        'CNY' as currency,
        fen_to_cny(total_fen) as order_total_original,
        fen_to_cny(total_fen) as gmv_cny,
        fen_to_cny(original_fen - total_fen) as discount_cny,
        fen_to_cny(original_fen - total_fen) as merchant_discount_cny,
        cast(0 as decimal(18, 2)) as platform_discount_cny,
        cast(0 as decimal(18, 2)) as shipping_cny,
        fen_to_cny(total_fen) as paid_cny,
        fen_to_cny(refunded_fen) as refunded_cny,
        line_count,
        false as is_group_buy,
        cast(null as varchar) as group_status,
        false as is_presale,
        created_at,
        created_at as paid_at,  -- a voucher order is paid when it is placed
        cast(null as timestamptz) as shipped_at,
        case
            when voucher_count > 0 and redeemed_count = voucher_count then epoch_to_utc(last_settled_epoch)
        end as completed_at,
        cast(null as timestamptz) as cancelled_at,
        epoch_to_utc(last_refund_epoch) as last_refund_at,
        modified_at
    from amounts
)

select * from final
