-- grain: one row per channel, shop and date with at least one order placed or a traffic report
-- key: channel, shop_id, order_date
-- not_null: orders, buyers, gmv_cny, paid_cny, refunded_cny, net_cny
-- description: Daily channel performance by order date: every amount belongs to the day the order
-- was placed (refunds included, as of the last run), so a day's figures settle as refunds arrive.
-- Traffic, conversion and ad spend of the same shop and day sit beside the sales. Conversion is
-- each platform's own (conversion_definition says which); unique visitors are per shop and day
-- and must not be summed across days or shops.
-- column channel: Sales channel code.
-- column shop_id: Shop (or POS system).
-- column order_date: China date the orders were placed (and the traffic report's day; GA4 properties report days in their own zone).
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
-- column visitors: The shop's unique visitors that day (GA4 totalUsers; 访客数 of the export file); for the stores, door-counter entries (进店人数). Null without a traffic source. Not additive across days or shops.
-- column sessions: GA4 sessions (web store and mini-program only).
-- column page_views: Page views (GA4 screenPageViews; 浏览量).
-- column conversion_rate: The platform's own conversion for the day: conversion_numerator / conversion_denominator.
-- column conversion_numerator: Converted sessions (GA4), paying buyers as the back office reports them (exports) or till transactions (door counters).
-- column conversion_denominator: Sessions (GA4), visitors (exports) or store entries (door counters).
-- column conversion_definition: Which conversion this is, in the platform's words: never compare rates of different definitions as if they were one.
-- column ad_spend_cny: Paid-ads spend that day (Ocean Engine for Douyin, 直通车 for Tmall / Taobao), CNY.
-- column ad_clicks: Ad clicks.
-- column ad_impressions: Ad impressions.
-- column roi: 投产比: paid_cny / ad_spend_cny, the shop-day's paid sales per yuan of ads (all of its sales, not only ad-attributed ones).
with orders as (
    select * from marts.fct_orders
),

reports as (
    select * from staging.stg_traffic__reports
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

traffic as (
    -- One row per shop-day. A shop's unique visitors exist only in its day-total report (GA4 day
    -- totals, export files); a shop has one day-total source, so max() picks that one value.
    select
        channel,
        shop_id,
        report_date as order_date,
        max(visitors) filter (where report = 'day_total') as visitors,
        sum(sessions) filter (where report = 'day_total') as sessions,
        sum(page_views) filter (where report = 'day_total') as page_views,
        sum(conversion_numerator) filter (where report = 'day_total') as conversion_numerator,
        sum(conversion_denominator) filter (where report = 'day_total') as conversion_denominator,
        max(conversion_definition) filter (where report = 'day_total') as conversion_definition,
        sum(ad_spend_cny) filter (where report = 'ads') as ad_spend_cny,
        sum(ad_clicks) filter (where report = 'ads') as ad_clicks,
        sum(ad_impressions) filter (where report = 'ads') as ad_impressions
    from reports
    group by channel, shop_id, report_date
),

sales_and_traffic as (
    -- a day with visitors and no order is a day of 0 % conversion, not a missing day
    select
        coalesce(d.channel, t.channel) as channel,
        coalesce(d.shop_id, t.shop_id) as shop_id,
        coalesce(d.order_date, t.order_date) as order_date,
        coalesce(d.orders, 0) as orders,
        coalesce(d.paid_orders, 0) as paid_orders,
        coalesce(d.buyers, 0) as buyers,
        coalesce(d.gmv_cny, 0) as gmv_cny,
        coalesce(d.paid_cny, 0) as paid_cny,
        coalesce(d.refunded_cny, 0) as refunded_cny,
        coalesce(d.net_cny, 0) as net_cny,
        d.platform_discount_cny,
        coalesce(d.group_buy_orders, 0) as group_buy_orders,
        coalesce(d.failed_group_orders, 0) as failed_group_orders,
        coalesce(d.presale_orders, 0) as presale_orders,
        t.* exclude (channel, shop_id, order_date)
    from daily as d
    full outer join traffic as t
        on d.channel = t.channel and d.shop_id = t.shop_id and d.order_date = t.order_date
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
        presale_orders,
        visitors,
        sessions,
        page_views,
        cast(conversion_numerator / nullif(conversion_denominator, 0) as decimal(9, 6)) as conversion_rate,
        conversion_numerator,
        conversion_denominator,
        conversion_definition,
        cast(ad_spend_cny as decimal(18, 2)) as ad_spend_cny,
        ad_clicks,
        ad_impressions,
        cast(paid_cny / nullif(ad_spend_cny, 0) as decimal(12, 4)) as roi
    from sales_and_traffic
)

select * from final
