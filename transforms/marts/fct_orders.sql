-- grain: one row per order on any channel (the latest state the platform reported)
-- key: order_key
-- not_null: order_id, channel, sales_model, shop_id, status, order_date, gmv_cny, paid_cny, refunded_cny, net_cny
-- incremental_orders: channel, order_id
-- orders_also_changed: select f.channel, f.order_id from marts.fct_orders as f left join core.customer_accounts as a using (channel, account_id) where f.customer_id is distinct from a.customer_id
-- orders_read_from: core.orders_checked
-- description: Every order from every channel in one shape. Amounts are exact CNY. GMV is what the
-- buyer was asked to pay (placed, paid or not); paid is what was actually paid; refunded is what
-- has been refunded so far; net = paid - refunded. Dates are China business dates.
-- column order_key: Unique order key across channels: '<channel>:<order_id>'.
-- column order_id: The platform's own order id, as text (TOP and Douyin ids exceed 2^53).
-- column channel: Sales channel code: shopify, tmall, taobao, jd, pinduoduo, douyin, pos.
-- column sales_model: How the channel sells: b2c / c2c marketplace, f2c (the brand's own store), o2o, b2b (1688 wholesale: business buyers, excluded from consumer customer metrics), offline (stores).
-- column shop_id: The shop (or POS system) the order belongs to, as configured.
-- column store_id: Physical store of a POS sale; null online.
-- column customer_key: Channel-scoped buyer: '<channel>:<platform account id>'; null for guest checkouts and anonymous store sales.
-- column customer_id: The unified customer across channels (see dim_customers); null where the order has no buyer account (guest checkouts, anonymous store sales, Pinduoduo).
-- column account_id: The platform's buyer id (Shopify customer id, TOP buyer_open_uid, JD open_id_buyer, Douyin doudian_open_id, POS member id); Pinduoduo order lists carry none.
-- column platform_status: The platform's own status, kept verbatim beside the common lifecycle.
-- column status: Common lifecycle: created, paid, shipped, completed, cancelled, refunded, partially_refunded.
-- column currency: Currency the buyer saw (Shopify presentment currency); CNY elsewhere.
-- column order_total_original: Order total in `currency`.
-- column gmv_cny: Placed order value in CNY, merchant side (after the merchant's discounts, with shipping and with any platform-funded discount), paid or not.
-- column discount_cny: All discounts on the order in CNY (merchant- plus platform-funded).
-- column merchant_discount_cny: Discounts the merchant funds (shop coupons, promotions, price cuts).
-- column platform_discount_cny: Discounts the platform funds (JD coupons, Pinduoduo and Douyin subsidies). The platform pays them to the merchant, so they are inside gmv_cny and paid_cny; the buyer paid paid_cny - platform_discount_cny.
-- column is_group_buy: A Pinduoduo group-buy (拼团) order.
-- column group_status: Group-buy state: forming, formed, failed (a failed group is refunded); null otherwise.
-- column is_platform_delivered: The platform's logistics deliver the merchant's goods (JD FBP orders, orderType 21: stocked in JD's warehouses, JD ships); false where the merchant ships or the channel does not say.
-- column is_presale: A pre-sale deposit order (定金预售): paid_cny is the deposit until the balance is paid.
-- column shipping_cny: Shipping charged in CNY.
-- column paid_cny: Amount actually paid in CNY (0 if never paid).
-- column refunded_cny: Amount refunded so far in CNY.
-- column net_cny: paid_cny - refunded_cny.
-- column line_count: Number of order lines.
-- column order_date: China date (Asia/Shanghai) the order was placed.
-- column created_at: When the order was placed (UTC).
-- column paid_at: When it was paid (UTC); null if never.
-- column shipped_at: When it shipped (UTC), where the platform says.
-- column completed_at: When it completed / closed (UTC).
-- column cancelled_at: When an unpaid order was cancelled (UTC).
-- column last_refund_at: When the last refund happened (UTC; TOP: the last modification of a refunded trade).
-- column modified_at: The platform's last modification time (UTC): the incremental cursor.
with orders as (
    -- every channel's orders that map; the others are in audit.quarantine with the reason
    select * exclude (quarantine_reason)
    from core.orders_checked
    where quarantine_reason is null
),

channels as (
    -- the channel registry: how each channel sells
    select channel, sales_model from raw.channels
),

customers as (
    -- the unified customer of each platform account (identity resolution)
    select channel, account_id, customer_id from core.customer_accounts
),

final as (
    select
        -- ids (derived here once for every channel)
        channel || ':' || order_id as order_key,
        order_id, channel, channels.sales_model, shop_id, store_id,
        case when account_id is not null then channel || ':' || account_id end as customer_key,
        customers.customer_id,
        account_id,
        -- status
        platform_status, status,
        -- marketplace order kinds (false where a channel has no such thing)
        coalesce(is_group_buy, false) as is_group_buy, group_status,
        coalesce(is_presale, false) as is_presale,
        coalesce(is_platform_delivered, false) as is_platform_delivered,
        -- amounts
        currency, order_total_original, gmv_cny, discount_cny,
        -- channels without platform-funded discounts: every discount is the merchant's
        coalesce(merchant_discount_cny, discount_cny - coalesce(platform_discount_cny, 0)) as merchant_discount_cny,
        coalesce(platform_discount_cny, 0) as platform_discount_cny,
        shipping_cny,
        paid_cny, refunded_cny, cast(paid_cny - refunded_cny as decimal(18, 2)) as net_cny, line_count,
        -- dates and timestamps
        china_date(created_at) as order_date,
        created_at, paid_at, shipped_at, completed_at, cancelled_at, last_refund_at, modified_at
    from orders
    left join channels using (channel)
    left join customers using (channel, account_id)
)

select * from final
