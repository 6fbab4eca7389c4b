-- grain: one row per record that could not be mapped (its latest landed version)
-- key: channel, entity, record_id
-- not_null: reason, record, partition_date
-- description: Rows that landed but cannot be published, with why and the record as it landed, so nothing is dropped silently: every landed order is either in marts.fct_orders or here. Fix the mapping (or wait for the platform's corrected record) and rebuild: a row leaves the quarantine when its latest version maps.
-- column channel: Sales channel of the record.
-- column shop_id: The shop it came from.
-- column entity: What it is (orders).
-- column record_id: The platform's id of the record (the order id).
-- column partition_date: The landing partition (China date of the platform's modification time) holding this version.
-- column reason: Why it cannot be mapped.
-- column record: The record as landed (JSON; PII already hashed or removed by the connector).
with bad_orders as (
    select channel, shop_id, order_id, quarantine_reason, modified_at
    from core.orders_checked
    where quarantine_reason is not null
),

landed as (
    select channel, order_id, record from core.orders_landed
),

final as (
    select
        b.channel,
        b.shop_id,
        'orders' as entity,
        b.order_id as record_id,
        china_date(b.modified_at) as partition_date,
        b.quarantine_reason as reason,
        l.record
    from bad_orders as b
    join landed as l on l.channel = b.channel and l.order_id = b.order_id
)

select * from final
