-- grain: one row per redeemed (核销) Meituan voucher
-- key: voucher_code
-- incremental: order_id
-- not_null: order_id, channel, shop_id, purchase_store_id, redeemed_store_id, redeemed_at, amount_cny
-- description: Meituan vouchers redeemed in a store, from the coupons[] of the latest landed order
-- version (field names unverified). The redeeming store (use_store_id) is mapped from use_poi_code
-- by the connector through its app_poi_codes option; it may differ from the purchase store.
-- amount_cny is the price the buyer paid for that voucher.
with latest as (
    select channel, shop_id, record_id, record
    from raw.meituan__orders_latest
),

coupons as (
    select
        l.channel,
        l.shop_id,
        l.record_id as order_id,
        l.record ->> '$.store_id' as purchase_store_id,
        c.v
    from latest as l,
        unnest(from_json(l.record -> '$.coupons',
            '[{"code":"VARCHAR","status":"VARCHAR","price":"BIGINT","use_time":"BIGINT","use_store_id":"VARCHAR"}]'
        )) as c(v)
),

final as (
    select
        v.code as voucher_code,
        order_id,
        channel,
        shop_id,
        purchase_store_id,
        v.use_store_id as redeemed_store_id,
        epoch_to_utc(v.use_time) as redeemed_at,
        fen_to_cny(v.price) as amount_cny
    from coupons
    where v.status = 'redeemed'
)

select * from final
