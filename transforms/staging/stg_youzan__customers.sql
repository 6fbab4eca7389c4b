-- grain: one row per Youzan member (yz_open_id) of the brand's mini-program store, latest version landed
-- key: channel, account_id
-- incremental: account_id
-- not_null: shop_id, member_card_no
-- description: Mini-program store members from Youzan (members API unverified: the sandbox's
-- youzan.scrm.customer.search). The mobile arrives plain and is hashed (HMAC-SHA256) and masked by
-- the connector before landing. outer_user_id is the buyer's WeChat openid in the mini-program;
-- union_id (when WeChat gives one) is the same across the brand's WeChat apps, for identity resolution.
with latest as (
    select channel, shop_id, record_id, modified_at, record
    from raw.youzan__customers_latest
),

final as (
    select
        record_id as account_id,
        channel,
        shop_id,
        record ->> '$.mobile_hash' as phone_hash,
        record ->> '$.mobile_masked' as phone_masked,
        nullif(record ->> '$.city', '') as city,
        cst_to_utc(record ->> '$.created_at') as created_at,
        modified_at as updated_at,
        record ->> '$.card_no' as member_card_no,
        nullif(record ->> '$.outer_user_id', '') as outer_user_id,
        nullif(record ->> '$.union_id', '') as union_id
    from latest
)

select * from final
