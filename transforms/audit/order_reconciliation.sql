-- grain: one row per channel and landing day (China date of an order's latest landed version)
-- key: channel, partition_date
-- not_null: landed_orders, published_orders, quarantined_orders, unexplained_orders, published_not_landed, paid_difference_cny
-- description: Reconciliation of what landed with what was published: every order whose latest
-- version landed on the day is in marts.fct_orders or in audit.quarantine, never both, never
-- neither, and fct_orders holds no order that did not land; the paid amount published equals what
-- staging read from the landed records of the orders that map. A blocking check requires
-- `unexplained_orders`, `published_not_landed` and `paid_difference_cny` to be zero.
-- column channel: Sales channel.
-- column partition_date: Landing partition: the China date of the platform's last modification of the orders counted.
-- column landed_orders: Orders whose latest landed version is in this partition.
-- column published_orders: Of those, the orders in marts.fct_orders.
-- column quarantined_orders: Of those, the orders held in audit.quarantine (the reason is there).
-- column unexplained_orders: Landed orders neither published nor quarantined, plus any both (must be 0).
-- column published_not_landed: Orders in marts.fct_orders with this landing day that are not among the landed orders (must be 0).
-- column landed_paid_cny: Paid amount in CNY of the landed orders that map, as staging read it (core.orders_checked).
-- column published_paid_cny: Paid amount in CNY of those orders in marts.fct_orders.
-- column paid_difference_cny: published_paid_cny - landed_paid_cny (must be 0).
with landed as (
    -- every order's latest landed version (what core.orders_landed reads its records by), from the
    -- narrow table rather than through the landing files: the check's cost stays off the JSON
    select channel, record_id as order_id, china_date(modified_at) as partition_date
    from raw.record_winners
    where entity in (select source || '__orders' from raw.channels)
),

mapped as (
    -- staging's reading of every landed order; the amounts of those that map
    select channel, order_id, paid_cny from core.orders_checked where quarantine_reason is null
),

published as (
    select channel, order_id, paid_cny, china_date(modified_at) as partition_date from marts.fct_orders
),

quarantined as (
    select channel, record_id as order_id from audit.quarantine where entity = 'orders'
),

per_order as (
    select
        l.channel,
        l.partition_date,
        p.order_id is not null as is_published,
        q.order_id is not null as is_quarantined,
        m.paid_cny as landed_paid_cny,
        p.paid_cny as published_paid_cny
    from landed as l
    left join published as p on p.channel = l.channel and p.order_id = l.order_id
    left join quarantined as q on q.channel = l.channel and q.order_id = l.order_id
    left join mapped as m on m.channel = l.channel and m.order_id = l.order_id
),

phantoms as (
    -- published orders that never landed: a join or a union gone wrong in the models
    select p.channel, p.partition_date, count(*) as published_not_landed
    from published as p
    anti join landed as l on l.channel = p.channel and l.order_id = p.order_id
    group by all
),

per_day as (
    select
        channel,
        partition_date,
        count(*) as landed_orders,
        count(*) filter (where is_published) as published_orders,
        count(*) filter (where is_quarantined) as quarantined_orders,
        count(*) filter (where is_published = is_quarantined) as unexplained_orders,
        coalesce(sum(landed_paid_cny), 0) as landed_paid_cny,
        coalesce(sum(published_paid_cny), 0) as published_paid_cny
    from per_order
    group by all
),

final as (
    select
        coalesce(d.channel, x.channel) as channel,
        coalesce(d.partition_date, x.partition_date) as partition_date,
        coalesce(d.landed_orders, 0) as landed_orders,
        coalesce(d.published_orders, 0) as published_orders,
        coalesce(d.quarantined_orders, 0) as quarantined_orders,
        coalesce(d.unexplained_orders, 0) as unexplained_orders,
        coalesce(x.published_not_landed, 0) as published_not_landed,
        coalesce(d.landed_paid_cny, 0) as landed_paid_cny,
        coalesce(d.published_paid_cny, 0) as published_paid_cny,
        coalesce(d.published_paid_cny, 0) - coalesce(d.landed_paid_cny, 0) as paid_difference_cny
    from per_day as d
    full join phantoms as x on x.channel = d.channel and x.partition_date = d.partition_date
)

select * from final
