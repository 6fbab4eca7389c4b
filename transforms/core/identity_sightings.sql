-- grain: one row per platform account and identifier seen with it
-- key: channel, account_id, id_type, id_value
-- not_null: seen_at
-- description: The identifier graph's raw material: every platform account that placed an order
-- or is a member, with each identifier seen together with it (on its orders, its customer or
-- member record, or a loyalty card it is bound to). Values are hashes or platform ids, never plain PII. Identity resolution
-- (core.customer_accounts) decides which of them may link accounts: strong types link on their
-- own, weak ones (masked phones, a receiver phone that is not the account's usual one) are kept as
-- evidence only.
-- column channel: Sales channel of the account.
-- column account_id: The platform's account id, as the platform gives it.
-- column id_type: account (the account itself), top_open_uid (one per person across Tmall and Taobao), phone_hash (a registered phone, or the receiver phone an account uses most, on two orders or more), receiver_phone_once (the receiver phone an account uses most when it is on a single order: it may be a gift's, so it never links on its own), receiver_phone_other (another receiver phone on its orders: gifts, family), name_hash (a member's or customer's registered name, or the name with the usual receiver phone: evidence only, it vetoes a phone link between differently named accounts), email_hash, phone_masked, wechat_unionid, member_card (pos: + the brand loyalty card; the mini-program's own cards as given).
-- column id_value: The identifier (HMAC-SHA256 hashes for phones and emails).
-- column seen_at: When it was first seen with the account (UTC).
with order_accounts as (
    -- orders that map (a quarantined one has no trustworthy time)
    select channel, account_id, created_at
    from core.orders_checked
    where quarantine_reason is null
),

members as (
    -- customer and member records: the phone and email they registered with
    select channel, account_id, email_hash, phone_hash, phone_masked, name_hash,
        cast(null as varchar) as union_id, cast(null as varchar) as member_card_no, updated_at
    from staging.stg_shopify__customers
    union all
    select channel, account_id, email_hash, phone_hash, phone_masked, name_hash, null, null, updated_at
    from staging.stg_pos__customers
    union all
    select channel, account_id, null, phone_hash, phone_masked, null, union_id, member_card_no, updated_at
    from staging.stg_youzan__customers
),

receiver_phones as (
    -- receiver phones (and TOP's names) decrypted and hashed by the connectors (TOP and Douyin
    -- shops with decrypt_phones; privacy numbers excluded)
    select channel, account_id, receiver_phone_hash, receiver_name_hash, created_at
    from core.orders_checked
    where quarantine_reason is null and account_id is not null and receiver_phone_hash is not null
),

receiver_rank as (
    -- An account's usual receiver (phone and name) is its own; one on one order among many is
    -- likely a gift or a relative's, so only the most used one (then the latest) may link.
    select
        channel, account_id, receiver_phone_hash, receiver_name_hash, min(created_at) as seen_at,
        count(*) as orders,
        row_number() over (
            partition by channel, account_id
            order by count(*) desc, max(created_at) desc, receiver_phone_hash, receiver_name_hash
        ) as rank
    from receiver_phones
    group by channel, account_id, receiver_phone_hash, receiver_name_hash
),

usual_receiver as (
    select channel, account_id, receiver_phone_hash, receiver_name_hash, orders, seen_at
    from receiver_rank
    where rank = 1
),

other_receiver_phones as (
    select r.channel, r.account_id, r.receiver_phone_hash, min(r.seen_at) as seen_at
    from receiver_rank as r
    anti join usual_receiver as u
        on u.channel = r.channel and u.account_id = r.account_id and u.receiver_phone_hash = r.receiver_phone_hash
    group by r.channel, r.account_id, r.receiver_phone_hash
),

accounts as (
    select channel, account_id, min(created_at) as seen_at
    from order_accounts
    where account_id is not null
    group by channel, account_id
    union all
    select m.channel, m.account_id, min(m.updated_at)
    from members as m
    anti join order_accounts as o on m.channel = o.channel and m.account_id = o.account_id
    group by m.channel, m.account_id
),

sightings as (
    select channel, account_id, 'account' as id_type, channel || ':' || account_id as id_value, seen_at
    from accounts
    union all
    select channel, account_id, 'top_open_uid', account_id, seen_at
    from accounts
    where channel in ('tmall', 'taobao')
    union all
    select channel, account_id, case when orders >= 2 then 'phone_hash' else 'receiver_phone_once' end,
        receiver_phone_hash, seen_at
    from usual_receiver
    union all
    select channel, account_id, 'receiver_phone_other', receiver_phone_hash, seen_at from other_receiver_phones
    union all
    select channel, account_id, 'name_hash', receiver_name_hash, seen_at
    from usual_receiver
    where receiver_name_hash is not null
    union all
    select channel, account_id, 'name_hash', name_hash, updated_at from members where name_hash is not null
    union all
    select channel, account_id, 'phone_hash', phone_hash, updated_at from members where phone_hash is not null
    union all
    select channel, account_id, 'email_hash', email_hash, updated_at from members where email_hash is not null
    union all
    select channel, account_id, 'phone_masked', phone_masked, updated_at from members where phone_masked is not null
    union all
    select channel, account_id, 'wechat_unionid', union_id, updated_at from members where union_id is not null
    union all
    select channel, account_id, 'member_card', member_card_no, updated_at
    from members
    where member_card_no is not null
    union all
    -- a POS member is its card; the accounts bound to it carry the card too
    select channel, account_id, 'member_card', 'pos:' || account_id, seen_at
    from accounts
    where channel = 'pos'
    union all
    select channel, account_id, 'member_card', 'pos:' || member_id, bound_at
    from staging.stg_pos__member_bindings
),

final as (
    select channel, account_id, id_type, id_value, min(seen_at) as seen_at
    from sightings
    group by channel, account_id, id_type, id_value
)

select * from final
