-- grain: one row per channel, shop and China date with at least one order placed
-- key: channel, shop_id, order_date
-- not_null: orders, buyers, gmv_cny, paid_cny, refunded_cny, net_cny
-- description: Daily channel performance by order date: every amount belongs to the day the order
-- was placed (refunds included, as of the last run), so a day's figures settle as refunds arrive.
-- column channel: Sales channel code.
-- column shop_id: Shop (or POS system).
-- column order_date: China date the orders were placed.
-- column orders: Orders placed (paid or not).
-- column paid_orders: Orders that were paid.
-- column buyers: Distinct paying buyers: distinct customer_key, each order without a buyer id (anonymous store sales; every Pinduoduo order, whose order list carries no buyer id) counting as one buyer. Not additive across days or channels.
-- column gmv_cny: Placed order value in CNY.
-- column paid_cny: Paid in CNY.
-- column refunded_cny: Refunded so far in CNY, for orders placed that day.
-- column net_cny: paid - refunded, in CNY.
-- column aov_cny: Average paid order value: paid_cny / paid_orders.
-- column revenue_per_buyer_cny: 客单价 per buyer: paid_cny / buyers.
-- column refund_rate: refunded_cny / paid_cny.
-- column platform_discount_cny: Platform-funded discounts inside paid_cny (JD coupons, Pinduoduo and Douyin subsidies).
-- column group_buy_orders: Pinduoduo group-buy orders placed.
-- column failed_group_orders: Group-buy orders whose group failed (refunded by the platform).
-- column presale_orders: Pre-sale deposit orders placed.
with orders as (
    select * from marts.fct_orders
),

daily as (
    select
        channel,
        shop_id,
        order_date,
        count(*) as orders,
        count(*) filter (where paid_cny > 0) as paid_orders,
        count(distinct customer_key) filter (where paid_cny > 0)
            + count(*) filter (where paid_cny > 0 and customer_key is null) as buyers,
        sum(gmv_cny) as gmv_cny,
        sum(paid_cny) as paid_cny,
        sum(refunded_cny) as refunded_cny,
        sum(net_cny) as net_cny,
        sum(platform_discount_cny) filter (where paid_cny > 0) as platform_discount_cny,
        count(*) filter (where is_group_buy) as group_buy_orders,
        count(*) filter (where group_status = 'failed') as failed_group_orders,
        count(*) filter (where is_presale) as presale_orders
    from orders
    group by channel, shop_id, order_date
),

final as (
    select
        channel, shop_id, order_date, orders, paid_orders, buyers,
        cast(gmv_cny as decimal(18, 2)) as gmv_cny,
        cast(paid_cny as decimal(18, 2)) as paid_cny,
        cast(refunded_cny as decimal(18, 2)) as refunded_cny,
        cast(net_cny as decimal(18, 2)) as net_cny,
        cast(case when paid_orders > 0 then paid_cny / paid_orders end as decimal(18, 2)) as aov_cny,
        cast(case when buyers > 0 then paid_cny / buyers end as decimal(18, 2)) as revenue_per_buyer_cny,
        cast(case when paid_cny > 0 then refunded_cny / paid_cny end as decimal(9, 4)) as refund_rate,
        cast(coalesce(platform_discount_cny, 0) as decimal(18, 2)) as platform_discount_cny,
        group_buy_orders,
        failed_group_orders,
        presale_orders
    from daily
)

select * from final
