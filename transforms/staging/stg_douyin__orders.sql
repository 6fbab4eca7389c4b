-- grain: one row per Douyin shop (抖店) order (order_id), latest version landed
-- key: channel, order_id
-- incremental: order_id
-- not_null: shop_id
-- description: Douyin orders from order.searchList in the canonical order shape. Money is integer
-- fen, times epoch seconds (0 = not happened), order_id a string (ids exceed 2^53). The buyer pays
-- pay_amount = order_amount - promotion_amount; the merchant-side GMV adds back the platform-funded
-- promotion, which Douyin pays the merchant. order_status 4 is an unpaid order cancelled, or a paid
-- one closed by a full refund (its pay_time stays set); partial after-sales refunds show per line
-- in sku_order_list[].after_sale_info.refund_status (3 = refunded; field names unverified).
-- column receiver_phone_hash: Keyed hash (PiiHasher.phone) of the receiver's mobile, decrypted with order.batchDecrypt and hashed before landing; null unless the shop sets decrypt_phones, for a virtual number, or when the decrypt failed. The receiver may not be the buyer.
-- column receiver_phone_virtual: The order is privacy-protected (隐私号): the decrypt gave a virtual number, so there is no phone hash. Null unless the shop sets decrypt_phones, or when the decrypt failed.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.douyin__orders_latest
),

fields as (
    -- each order's JSON parsed once, every field as its text (as `->>` gives it): one `->>` per
    -- field parsed the whole record once per field
    select *, json_transform(record, '{
            "doudian_open_id": "VARCHAR",
            "receiver_phone_hash": "VARCHAR",
            "receiver_phone_virtual": "VARCHAR",
            "order_status": "VARCHAR",
            "pay_amount": "VARCHAR",
            "promotion_amount": "VARCHAR",
            "promotion_shop_amount": "VARCHAR",
            "promotion_platform_amount": "VARCHAR",
            "post_amount": "VARCHAR",
            "sku_order_list": "JSON",
            "create_time": "VARCHAR",
            "pay_time": "VARCHAR",
            "ship_time": "VARCHAR",
            "finish_time": "VARCHAR",
            "update_time": "VARCHAR"
        }') as f
    from latest
),

parsed as (
    select
        -- ids
        channel,
        shop_id,
        record_id as order_id,
        nullif(f.doudian_open_id, '') as account_id,
        -- receiver phone (decrypt_phones shops only): a keyed hash, or the virtual-number flag
        f.receiver_phone_hash as receiver_phone_hash,
        cast(f.receiver_phone_virtual as boolean) as receiver_phone_virtual,
        -- status (the code kept as text, e.g. '3')
        f.order_status as platform_status,
        cast(f.order_status as integer) as order_status,
        -- amounts (integer fen)
        cast(f.pay_amount as bigint) as pay_fen,
        cast(f.promotion_amount as bigint) as promotion_fen,
        cast(f.promotion_shop_amount as bigint) as promotion_shop_fen,
        cast(f.promotion_platform_amount as bigint) as promotion_platform_fen,
        cast(f.post_amount as bigint) as post_fen,
        f.sku_order_list as sku_orders,
        -- timestamps (epoch seconds)
        epoch_to_utc(f.create_time) as created_at,
        epoch_to_utc(f.pay_time) as paid_at,
        epoch_to_utc(f.ship_time) as shipped_at,
        epoch_to_utc(f.finish_time) as finished_at,
        epoch_to_utc(f.update_time) as updated_at,
        modified_at
    from fields
),

sku_lines as (
    -- each order's SKU lines counted and summed on its own row, from its own list (unnesting them and
    -- joining the sums back by key cost most of an order model: stg_top__orders)
    select
        *,
        len(sku_list) as line_count,
        len(list_filter(sku_list, s -> s.after_sale_info.refund_status = 3)) as refunded_line_count,
        list_sum([s.pay_amount for s in sku_list if s.after_sale_info.refund_status = 3])
            as refunded_lines_fen
    from (
        select *, from_json(sku_orders,
            '[{"pay_amount":"BIGINT","after_sale_info":{"refund_status":"INTEGER"}}]'
        ) as sku_list
        from parsed
    )
),

amounts as (
    select
        l.* exclude (sku_list, line_count, refunded_line_count, refunded_lines_fen),
        coalesce(l.line_count, 0) as line_count,
        coalesce(l.refunded_line_count, 0) as refunded_line_count,
        coalesce(l.refunded_lines_fen, 0) as refunded_lines_fen,
        fen_to_cny(l.pay_fen + l.promotion_platform_fen) as merchant_total_cny,
        -- every line refunded (postage included), or closed after payment: the whole order
        (l.order_status = 4 and l.paid_at is not null)
            or (l.line_count > 0 and l.refunded_line_count = l.line_count) as fully_refunded
    from sku_lines as l
),

final as (
    select
        order_id,
        channel,
        shop_id,
        cast(null as varchar) as store_id,
        account_id,
        receiver_phone_hash,
        receiver_phone_virtual,
        platform_status,
        case
            when order_status = 1 then 'created'
            when order_status = 4 and paid_at is null then 'cancelled'
            when fully_refunded then 'refunded'
            when refunded_line_count > 0 then 'partially_refunded'
            when order_status = 5 then 'completed'
            when order_status = 3 then 'shipped'
            when order_status in (2, 105, 101) then 'paid'
        end as status,
        'CNY' as currency,
        merchant_total_cny as order_total_original,
        merchant_total_cny as gmv_cny,
        fen_to_cny(promotion_fen) as discount_cny,
        fen_to_cny(promotion_shop_fen) as merchant_discount_cny,
        fen_to_cny(promotion_platform_fen) as platform_discount_cny,
        fen_to_cny(post_fen) as shipping_cny,
        case when paid_at is not null then merchant_total_cny else cast(0 as decimal(18, 2)) end as paid_cny,
        case
            when fully_refunded then merchant_total_cny
            else fen_to_cny(refunded_lines_fen)
        end as refunded_cny,
        line_count,
        false as is_group_buy,
        cast(null as varchar) as group_status,
        false as is_presale,
        created_at,
        paid_at,
        shipped_at,
        case when order_status = 5 then finished_at end as completed_at,
        -- the list API has no cancel or refund time: the last update is the closest we have
        case when order_status = 4 and paid_at is null then updated_at end as cancelled_at,
        case when fully_refunded or refunded_line_count > 0 then updated_at end as last_refund_at,
        modified_at
    from amounts
)

select * from final
