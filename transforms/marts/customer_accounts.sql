-- grain: one row per platform account
-- key: channel, account_id
-- not_null: customer_id
-- description: Every platform account and the unified customer it resolved to. account_id is the
-- platform's own id, exactly as the platform gives it (Shopify customer id, TOP buyer_open_uid, JD
-- open_id_buyer, Douyin doudian_open_id, Youzan yz_open_id, Meituan user id, 1688 buyer login id,
-- POS member id), so it joins to fct_orders.account_id and to `omni sandbox truth` accounts.
-- column channel: Sales channel of the account.
-- column account_id: The platform's account id.
-- column customer_id: The unified customer (stable across runs; merges and splits are in core.customer_id_history).
with accounts as (
    select channel, account_id, customer_id from core.customer_accounts
),

final as (
    select channel, account_id, customer_id from accounts
)

select * from final
