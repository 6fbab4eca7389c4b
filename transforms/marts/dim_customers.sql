-- grain: one row per unified customer
-- key: customer_id
-- not_null: accounts, channels_used
-- description: One row per person across channels: the platform accounts identity resolution
-- joined, the identifiers that joined them (hashed), first and last order, orders and net revenue
-- on consumer channels, RFM segment and predicted 12-month CLV. Customers with accounts but no
-- paid order (members who never bought) are here too, with zero orders.
-- column customer_id: The unified customer (stable across runs; core.customer_id_history records merges and splits).
-- column accounts: Platform accounts resolved to this customer.
-- column channels_used: Channels of those accounts, sorted.
-- column is_business: The customer is a 1688 wholesale buyer (a business, not a person).
-- column phone_hashes: Hashed phones (HMAC-SHA256) that link its accounts.
-- column email_hashes: Hashed emails that link its accounts.
-- column wechat_unionids: WeChat unionids.
-- column member_cards: Member card numbers.
-- column top_open_uids: Taobao / Tmall buyer_open_uids.
-- column first_order_date: China date of the first paid order on any channel.
-- column first_channel: Channel of that order.
-- column last_order_date: China date of the last paid order.
-- column orders: Paid orders (all channels of the customer).
-- column net_revenue_cny: Net revenue (paid - refunded) of those orders, CNY.
-- column rfm_segment: RFM segment (marts.customer_rfm), consumer customers with a paid order.
-- column predicted_clv_cny: Predicted net spend of the next 12 months (marts.customer_ltv: BG/NBD x Gamma-Gamma); null where the model has no estimate.
with accounts as (
    select channel, account_id, customer_id from core.customer_accounts
),

identifiers as (
    select a.customer_id, s.id_type, s.id_value
    from core.identity_sightings as s
    join accounts as a using (channel, account_id)
    where s.id_type in ('phone_hash', 'email_hash', 'wechat_unionid', 'member_card', 'top_open_uid')
),

orders as (
    select customer_id, channel, order_date, created_at, order_key, net_cny
    from marts.fct_orders
    where customer_id is not null and paid_cny > 0
),

first_orders as (
    select customer_id, order_date as first_order_date, channel as first_channel
    from orders
    qualify row_number() over (partition by customer_id order by created_at, order_key) = 1
),

order_totals as (
    select
        customer_id,
        max(order_date) as last_order_date,
        count(*) as orders,
        cast(sum(net_cny) as decimal(18, 2)) as net_revenue_cny
    from orders
    group by customer_id
),

account_totals as (
    select
        customer_id,
        count(*) as accounts,
        list_sort(list(distinct channel)) as channels_used,
        bool_or(channel = 'alibaba_1688') as is_business
    from accounts
    group by customer_id
),

identifier_lists as (
    select
        customer_id,
        list_sort(list(distinct id_value) filter (where id_type = 'phone_hash')) as phone_hashes,
        list_sort(list(distinct id_value) filter (where id_type = 'email_hash')) as email_hashes,
        list_sort(list(distinct id_value) filter (where id_type = 'wechat_unionid')) as wechat_unionids,
        list_sort(list(distinct id_value) filter (where id_type = 'member_card')) as member_cards,
        list_sort(list(distinct id_value) filter (where id_type = 'top_open_uid')) as top_open_uids
    from identifiers
    group by customer_id
),

final as (
    select
        a.customer_id,
        a.accounts,
        a.channels_used,
        a.is_business,
        coalesce(i.phone_hashes, []) as phone_hashes,
        coalesce(i.email_hashes, []) as email_hashes,
        coalesce(i.wechat_unionids, []) as wechat_unionids,
        coalesce(i.member_cards, []) as member_cards,
        coalesce(i.top_open_uids, []) as top_open_uids,
        f.first_order_date,
        f.first_channel,
        t.last_order_date,
        coalesce(t.orders, 0) as orders,
        coalesce(t.net_revenue_cny, 0) as net_revenue_cny,
        r.segment as rfm_segment,
        l.clv_12m_cny as predicted_clv_cny
    from account_totals as a
    left join identifier_lists as i using (customer_id)
    left join first_orders as f using (customer_id)
    left join order_totals as t using (customer_id)
    left join marts.customer_rfm as r using (customer_id)
    left join marts.customer_ltv as l using (customer_id)
)

select * from final
