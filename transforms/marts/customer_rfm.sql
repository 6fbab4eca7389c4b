-- grain: one row per unified customer with a paid consumer order
-- key: customer_id
-- not_null: recency_days, frequency, monetary_cny, r_score, f_score, m_score, segment
-- description: RFM on the unified customer, as of the day after the last order in the warehouse.
-- Scores are quintiles 1-5 by percent rank (ties share the score of their first place, so the
-- many one-order customers all get F = 1 instead of being split at random); 3 or more is "high".
-- Segments are the classic eight of Chinese retail operations (重要价值 / 重要发展 / 重要保持 /
-- 重要挽留 / 一般价值 / 一般发展 / 一般保持 / 一般挽留) from high/low R, F and M.
-- column customer_id: The unified customer.
-- column as_of_date: The day the RFM is computed for (the day after the last order date in the warehouse).
-- column recency_days: Days from the last paid order to as_of_date.
-- column frequency: Paid orders (consumer channels).
-- column monetary_cny: Net revenue (paid - refunded) of those orders, CNY.
-- column r_score: Recency score 1-5 (5 = most recent).
-- column f_score: Frequency score 1-5 (5 = most orders).
-- column m_score: Monetary score 1-5 (5 = most net revenue).
-- column segment: The RFM segment's name (Chinese, as operators use it).
-- column segment_en: The same segment in English.
with orders as (
    select customer_id, order_date, net_cny
    from marts.fct_orders
    where customer_id is not null and paid_cny > 0 and sales_model <> 'b2b'
),

as_of as (
    select max(order_date) + 1 as as_of_date from marts.fct_orders
),

per_customer as (
    select
        o.customer_id,
        a.as_of_date,
        date_diff('day', max(o.order_date), a.as_of_date) as recency_days,
        count(*) as frequency,
        cast(sum(o.net_cny) as decimal(18, 2)) as monetary_cny
    from orders as o
    cross join as_of as a
    group by o.customer_id, a.as_of_date
),

scored as (
    select
        *,
        -- the rank of the first of the tied values: the many one-order customers all score 1 on F
        least(5, 1 + cast(floor(5 * percent_rank() over (order by recency_days desc)) as integer)) as r_score,
        least(5, 1 + cast(floor(5 * percent_rank() over (order by frequency)) as integer)) as f_score,
        least(5, 1 + cast(floor(5 * percent_rank() over (order by monetary_cny)) as integer)) as m_score
    from per_customer
),

final as (
    select
        customer_id, cast(as_of_date as date) as as_of_date, recency_days, frequency, monetary_cny,
        r_score, f_score, m_score,
        case (r_score >= 3, f_score >= 3, m_score >= 3)
            when (true, true, true) then '重要价值客户'
            when (true, false, true) then '重要发展客户'
            when (false, true, true) then '重要保持客户'
            when (false, false, true) then '重要挽留客户'
            when (true, true, false) then '一般价值客户'
            when (true, false, false) then '一般发展客户'
            when (false, true, false) then '一般保持客户'
            else '一般挽留客户'
        end as segment,
        case (r_score >= 3, f_score >= 3, m_score >= 3)
            when (true, true, true) then 'champions'
            when (true, false, true) then 'promising high value'
            when (false, true, true) then 'loyal at risk'
            when (false, false, true) then 'high value lapsing'
            when (true, true, false) then 'active regulars'
            when (true, false, false) then 'new or occasional'
            when (false, true, false) then 'regulars lapsing'
            else 'lost'
        end as segment_en
    from scored
)

select * from final
