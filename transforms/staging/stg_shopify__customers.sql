-- grain: one row per Shopify customer per shop, latest version landed
-- key: channel, account_id
-- incremental: account_id
-- not_null: shop_id
-- description: Shopify customers. Contact details arrive hashed (HMAC-SHA256) and masked, never plain.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.shopify__customers_latest
),

final as (
    select
        record_id as account_id,
        channel,
        shop_id,
        record ->> '$.email_hash' as email_hash,
        record ->> '$.phone_hash' as phone_hash,
        record ->> '$.phone_masked' as phone_masked,
        -- the whole name (family name first), hashed by the connector
        record ->> '$.name_hash' as name_hash,
        record ->> '$.default_address.city' as city,
        record ->> '$.default_address.country' as country,
        cast(record ->> '$.orders_count' as integer) as platform_orders_count,
        cast(record ->> '$.created_at' as timestamptz) as created_at,
        modified_at as updated_at
    from latest
)

select * from final
