-- grain: one row per POS loyalty member, latest version landed
-- key: channel, account_id
-- incremental: account_id
-- not_null: shop_id
-- description: Store loyalty members. The POS keeps plain phones; they arrive here hashed and masked.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.pos__customers_latest
),

final as (
    select
        record_id as account_id,
        channel,
        shop_id,
        cast(null as varchar) as email_hash,
        record ->> '$.phone_hash' as phone_hash,
        record ->> '$.phone_masked' as phone_masked,
        record ->> '$.name_hash' as name_hash,
        record ->> '$.home_store_id' as home_store_id,
        cast(record ->> '$.joined_at' as timestamptz) as created_at,
        modified_at as updated_at
    from latest
)

select * from final
