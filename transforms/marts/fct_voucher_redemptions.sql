-- grain: one row per O2O voucher redeemed (核销) in a store
-- key: voucher_code
-- not_null: order_key, channel, purchase_store_id, redeemed_store_id, redeemed_date, redeemed_at, amount_cny
-- description: Where O2O revenue is recognised: a voucher sold online (Meituan 团购) is the
-- revenue of the store that redeems it, on the China date it is redeemed, not of the store it was
-- bought for nor of the day it was bought (fct_orders keeps the purchase view). Unredeemed,
-- refunded and expired vouchers have no row.
-- column voucher_code: The platform's voucher code (券码).
-- column order_key: The order that bought the voucher: '<channel>:<order_id>' (joins marts.fct_orders).
-- column channel: Sales channel code (meituan).
-- column purchase_store_id: The store the voucher was bought for.
-- column redeemed_store_id: The store that redeemed it, where the revenue belongs.
-- column redeemed_date: China date (Asia/Shanghai) of the redemption: the revenue day.
-- column redeemed_at: When it was redeemed (UTC).
-- column amount_cny: What the buyer paid for the voucher, in CNY.
with redemptions as (
    select * from staging.stg_meituan__voucher_redemptions
),

quarantined as (
    -- a voucher of an order held in audit.quarantine waits there with it (as its order lines do)
    select channel, order_id from core.orders_checked where quarantine_reason is not null
),

final as (
    select
        voucher_code,
        channel || ':' || order_id as order_key,
        channel,
        purchase_store_id,
        redeemed_store_id,
        china_date(redeemed_at) as redeemed_date,
        redeemed_at,
        amount_cny
    from redemptions
    anti join quarantined using (channel, order_id)
)

select * from final
