-- grain: one row per first-order month cohort and month since the first order
-- key: cohort_month, months_since_first
-- not_null: customers_active, orders, net_cny
-- description: Retention by first-order month on the unified customer: a customer who repeats on
-- another channel is a returning customer, not a new one. Consumer orders only (1688 wholesale
-- buyers are businesses) and paid orders only. customers_active in month 0 is the cohort's size.
-- Example: select cohort_month, months_since_first, customers_active from marts.customer_cohorts order by all.
-- column cohort_month: Month (first day, China time) of the customer's first paid order on any channel.
-- column months_since_first: Whole months between the cohort month and the order's month (0 = the first month).
-- column cohort_customers: Customers in the cohort (its size).
-- column customers_active: Customers of the cohort with a paid order in that month.
-- column retention_rate: customers_active / cohort_customers.
-- column orders: Paid orders of the cohort in that month.
-- column net_cny: Net revenue (paid - refunded) of those orders, CNY.
with orders as (
    select customer_id, order_date, net_cny
    from marts.fct_orders
    where customer_id is not null and paid_cny > 0 and sales_model <> 'b2b'
),

first_orders as (
    select customer_id, date_trunc('month', min(order_date)) as cohort_month
    from orders
    group by customer_id
),

activity as (
    select
        f.cohort_month,
        date_diff('month', f.cohort_month, date_trunc('month', o.order_date)) as months_since_first,
        o.customer_id,
        o.net_cny
    from orders as o
    join first_orders as f using (customer_id)
),

sizes as (
    select cohort_month, count(*) as cohort_customers from first_orders group by cohort_month
),

final as (
    select
        cast(a.cohort_month as date) as cohort_month,
        a.months_since_first,
        s.cohort_customers,
        count(distinct a.customer_id) as customers_active,
        cast(count(distinct a.customer_id) / s.cohort_customers as decimal(9, 4)) as retention_rate,
        count(*) as orders,
        cast(sum(a.net_cny) as decimal(18, 2)) as net_cny
    from activity as a
    join sizes as s using (cohort_month)
    group by a.cohort_month, a.months_since_first, s.cohort_customers
)

select * from final
