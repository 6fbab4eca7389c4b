-- grain: one row per record that could not be mapped (its latest landed version)
-- key: channel, entity, record_id
-- not_null: reason, record, partition_date
-- landing_files_from: select w.landing_file from raw.record_winners as w semi join (select channel, order_id from core.orders_checked where quarantine_reason is not null) as b on b.channel = w.channel and b.order_id = w.record_id where w.entity in (select source || '__orders' from raw.channels)
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

bad_versions as (
    -- the landed version each bad order was read from (which file holds it). Through
    -- core.orders_landed every landed record would be joined against every order's winning version:
    -- at 10M orders that did not fit the build's 2 GB
    select w.channel, w.record_id, w.landing_file, w.modified_at
    from raw.record_winners as w
    semi join bad_orders as b on b.channel = w.channel and b.order_id = w.record_id
    where w.entity in (select source || '__orders' from raw.channels)
),

versions as (
    -- the landed versions in the files holding the bad orders' versions: the runner reads only the
    -- files `landing_files_from` names (the bad_versions' files), not three years of order files
    select channel, record_id, landing_file, modified_at, record from raw.orders
),

landed as (
    select v.channel, v.record_id as order_id, cast(v.record as varchar) as record
    from versions as v
    semi join bad_versions as w
        on v.channel = w.channel and v.record_id = w.record_id and v.landing_file = w.landing_file
        and v.modified_at is not distinct from w.modified_at
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
