-- grain: one row per platform account bound to a loyalty member
-- key: member_id, channel, account_id
-- incremental: member_id
-- not_null: bound_at
-- description: Marketplace accounts bound to a brand loyalty member (Tmall/Taobao, JD and Douyin 会员通, Meituan 商家会员), as the member database records them. The strongest cross-channel link there is: the member bound the account themselves.
-- column member_id: The member card (the POS member's account_id).
-- column channel: The channel of the bound account.
-- column account_id: The platform's account id, as its order API gives it.
-- column bound_at: When the account was bound (UTC).
with members as (
    select record_id as member_id, record
    from raw.pos__customers_latest
),

bindings as (
    -- a member record carries all its bindings: the latest version of the member has them all
    select m.member_id, unnest(cast(m.record -> '$.bindings' as json[])) as binding
    from members as m
),

final as (
    select
        member_id,
        binding ->> '$.channel' as channel,
        binding ->> '$.account_id' as account_id,
        cast(binding ->> '$.bound_at' as timestamptz) as bound_at
    from bindings
)

select * from final
