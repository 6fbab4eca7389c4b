-- grain: one row per order line on any channel
-- key: order_line_key
-- not_null: order_key, channel, line_id, quantity, line_amount_cny, order_date
-- incremental_orders: channel, order_id
-- orders_read_from: staging.stg_shopify__order_lines, staging.stg_top__order_lines, staging.stg_jd__order_lines, staging.stg_pinduoduo__order_lines, staging.stg_douyin__order_lines, staging.stg_youzan__order_lines, staging.stg_alibaba_1688__order_lines, staging.stg_meituan__order_lines, staging.stg_pos__order_lines
-- description: Order lines from every channel, with the order's date and status for slicing.
-- column order_line_key: '<channel>:<order_id>:<line_id>'.
-- column order_key: The order this line belongs to (marts.fct_orders.order_key).
-- column order_id: The platform's order id.
-- column channel: Sales channel code.
-- column shop_id: Shop (or POS system).
-- column store_id: Physical store (POS sales, Meituan vouchers); null online.
-- column line_id: The platform's line id (Shopify line item id, TOP oid, POS line number).
-- column sku: Merchant SKU code.
-- column title: Product title as sold.
-- column quantity: Units.
-- column unit_price_cny: Unit list price in CNY.
-- column discount_cny: Discount on the line in CNY.
-- column line_amount_cny: What the line cost the buyer in CNY (TOP single-line trades include postage).
-- column is_refunded: The line was refunded / returned.
-- column order_date: China date the order was placed.
-- column order_status: Common lifecycle status of the order.
with lines as (
    select * from staging.stg_shopify__order_lines
    union all by name
    select * from staging.stg_top__order_lines
    union all by name
    select * from staging.stg_jd__order_lines
    union all by name
    select * from staging.stg_pinduoduo__order_lines
    union all by name
    select * from staging.stg_douyin__order_lines
    union all by name
    select * from staging.stg_youzan__order_lines
    union all by name
    select * from staging.stg_alibaba_1688__order_lines
    union all by name
    select * from staging.stg_meituan__order_lines
    union all by name
    select * from staging.stg_pos__order_lines
),

orders as (
    select order_key, order_date, status, store_id from marts.fct_orders
),

quarantined as (
    -- lines of an order held in audit.quarantine wait there with it
    select channel, order_id from core.orders_checked where quarantine_reason is not null
),

keyed as (
    select
        channel || ':' || order_id || ':' || line_id as order_line_key,
        channel || ':' || order_id as order_key,
        *
    from lines
    anti join quarantined using (channel, order_id)
),

final as (
    select
        keyed.order_line_key, keyed.order_key, keyed.order_id, keyed.channel, keyed.shop_id, orders.store_id,
        keyed.line_id, keyed.sku, keyed.title,
        keyed.quantity, keyed.unit_price_cny, keyed.discount_cny, keyed.line_amount_cny, keyed.is_refunded,
        orders.order_date, orders.status as order_status
    from keyed
    -- a left join: an orphan line keeps its row and fails the not-null check on order_date
    left join orders using (order_key)
)

select * from final
