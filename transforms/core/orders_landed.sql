-- grain: one row per order that landed on any channel (its latest landed version)
-- key: channel, order_id
-- not_null: shop_id, modified_at
-- materialized: view
-- checked_from: (select channel, record_id as order_id, shop_id, modified_at from raw.record_winners where entity in (select source || '__orders' from raw.channels))
-- description: The latest landed version of every order, as the platform sent it, from every
-- source's landing files: the starting point of reconciliation (every order here is in
-- marts.fct_orders or in audit.quarantine) and where the quarantine finds the raw record. A view,
-- not a copy: the records stay in the landing files.
-- column channel: Sales channel.
-- column shop_id: The shop it came from.
-- column order_id: The platform's order id (the landing record id).
-- column modified_at: The platform's last modification time of this version (UTC); its China date is the landing partition.
-- column record: The record as landed (JSON; PII already hashed or removed by the connector).
-- (`record` is not checked for nulls here: the landing files declare it non-nullable
-- (connectors/common/records.py) and the check would read every landed record's JSON each night)
with landed as (
    -- every source's latest order versions (raw.orders_latest: one view per source, in one)
    select channel, shop_id, record_id, modified_at, record from raw.orders_latest
),

final as (
    -- The key check reads these rows from raw.record_winners (`checked_from`), not through this view:
    -- each row here is one of its order rows, the winning version read from the file it names (the
    -- landing check allows a version once per file), and reading the keys through the view would open
    -- every order landing file, ~14,000 over three years, each night.
    select channel, shop_id, record_id as order_id, modified_at, cast(record as varchar) as record
    from landed
)

select * from final
