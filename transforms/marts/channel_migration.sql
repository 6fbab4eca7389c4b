-- grain: one row per first channel and later channel
-- key: first_channel, later_channel
-- not_null: customers, orders, net_cny
-- description: Where customers go after their first channel: for every customer, the channel of
-- their first paid order, and the channels of their later paid orders (the same channel too:
-- that is a repeat where they started). Unified customers, consumer orders only.
-- Example: share of Tmall first-timers who later bought in a store:
-- select later_channel, customers from marts.channel_migration where first_channel = 'tmall'.
-- column first_channel: Channel of the customer's first paid order.
-- column later_channel: Channel of a later paid order.
-- column customers: Customers who started on first_channel and later bought on later_channel.
-- column orders: Their later orders on later_channel.
-- column net_cny: Net revenue of those orders, CNY.
-- column first_channel_customers: Customers who started on first_channel (the denominator for shares).
with orders as (
    select customer_id, channel, created_at, order_key, net_cny
    from marts.fct_orders
    where customer_id is not null and paid_cny > 0 and sales_model <> 'b2b'
),

ranked as (
    select *, row_number() over (partition by customer_id order by created_at, order_key) as n
    from orders
),

firsts as (
    select customer_id, channel as first_channel from ranked where n = 1
),

later as (
    select f.first_channel, r.channel as later_channel, r.customer_id, r.net_cny
    from ranked as r
    join firsts as f using (customer_id)
    where r.n > 1
),

starters as (
    select first_channel, count(*) as first_channel_customers from firsts group by first_channel
),

final as (
    select
        l.first_channel,
        l.later_channel,
        count(distinct l.customer_id) as customers,
        count(*) as orders,
        cast(sum(l.net_cny) as decimal(18, 2)) as net_cny,
        s.first_channel_customers
    from later as l
    join starters as s using (first_channel)
    group by l.first_channel, l.later_channel, s.first_channel_customers
)

select * from final
