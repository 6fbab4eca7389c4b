-- grain: one row per report row of the newest extraction of each channel, shop, traffic source and report day
-- key: channel, shop_id, report_source, report, report_date, source, medium, campaign
-- not_null: report_date, time_zone
-- description: Every traffic and ad-spend report in one shape: GA4 (web store and mini-program
-- sessions), Ocean Engine (Douyin ads), 直通车 (Taobao / Tmall ads), the shops' analytics
-- export files (生意参谋, 京东商智, 拼多多数据中心) and the stores' door counters (POS database).
-- Connectors and the export loader land canonical
-- keys beside the platform's own row, so one model reads them all. A report day is replaced as a
-- whole by its newest extraction (platforms revise recent days; operators drop corrected files).
-- column channel: Sales channel code.
-- column shop_id: The shop the report describes.
-- column report_source: Where the numbers come from: ga4, oceanengine, simba (直通车), exports or pos_footfall (store door counters).
-- column report: day_total (the whole shop / property / account / store chain for the day), by_source (GA4 per source / medium / campaign), by_store (door counters per store) or ads (an ad account's day).
-- column report_date: The day reported on, in the report's time zone (time_zone).
-- column source: Traffic source (GA4 sessionSource), the store id of a by_store row, or '(all)' where the report has no breakdown.
-- column medium: Traffic medium (GA4 sessionMedium), 'store' for by_store rows, or '(all)'.
-- column campaign: Campaign (GA4 sessionCampaignName), or '(all)'.
-- column visitors: Unique visitors (GA4 totalUsers, 访客数) of this row's scope on that day only: never add them across days, sources or shops. For pos_footfall: door-counter entries (进店人数), which are counts (a day_total is its stores' entries summed).
-- column new_visitors: First-time visitors (GA4 newUsers).
-- column sessions: Sessions (GA4); additive.
-- column page_views: Page views (GA4 screenPageViews, 浏览量); additive.
-- column converted_sessions: GA4 sessions with a purchase key event (sessions x sessionKeyEventRate).
-- column paying_buyers: Paying buyers as the export reports them (支付买家数, 成交客户数); for pos_footfall the POS transactions (成交笔数).
-- column paid_orders: Paid orders as the export reports them.
-- column reported_paid_cny: Paid amount as the export reports it (支付金额, 成交金额), in CNY; for reconciliation with fct_orders.
-- column conversion_numerator: The platform's conversion numerator: converted sessions (GA4), paying buyers (exports) or transactions (pos_footfall).
-- column conversion_denominator: Its denominator: sessions (GA4), visitors (exports) or door-counter entries (pos_footfall).
-- column conversion_definition: The platform's own definition of conversion for this row (GA4's, or the one the record carries).
-- column ad_spend_cny: Ad spend in CNY.
-- column ad_impressions: Ad impressions.
-- column ad_clicks: Ad clicks.
-- column ad_conversions: Conversions the ad platform attributes to its ads (Ocean Engine convert).
-- column time_zone: IANA zone of report_date (GA4 properties report in their own zone).
-- column source_file: The export file the row came from (exports only).
-- column extracted_at: When the report was pulled or the file loaded.
with reports as (
    select 'ga4' as report_source, channel, shop_id, record, extracted_at from raw.ga4__traffic_latest
    union all
    select 'oceanengine', channel, shop_id, record, extracted_at from raw.oceanengine__traffic_latest
    union all
    select 'simba', channel, shop_id, record, extracted_at from raw.simba__traffic_latest
    union all
    select 'exports', channel, shop_id, record, extracted_at from raw.exports__traffic_latest
    union all
    select 'pos_footfall', channel, shop_id, record, extracted_at from raw.pos_footfall__traffic_latest
),

fields as (
    -- each row's JSON parsed once, every field as its text (as `->>` gives it): twenty `->>` parsed it
    -- twenty times, 7x the time
    select
        report_source, channel, shop_id, extracted_at,
        json_transform(record, '{
            "report": "VARCHAR",
            "report_date": "VARCHAR",
            "source": "VARCHAR",
            "medium": "VARCHAR",
            "campaign": "VARCHAR",
            "visitors": "VARCHAR",
            "new_visitors": "VARCHAR",
            "sessions": "VARCHAR",
            "page_views": "VARCHAR",
            "converted_sessions": "VARCHAR",
            "paying_buyers": "VARCHAR",
            "paid_orders": "VARCHAR",
            "paid_cny": "VARCHAR",
            "conversion_definition": "VARCHAR",
            "ad_spend_cny": "VARCHAR",
            "ad_impressions": "VARCHAR",
            "ad_clicks": "VARCHAR",
            "ad_conversions": "VARCHAR",
            "time_zone": "VARCHAR",
            "file": "VARCHAR"
        }') as f
    from reports
),

canonical as (
    select
        channel,
        shop_id,
        report_source,
        f.report as report,
        cast(f.report_date as date) as report_date,
        coalesce(f.source, '(all)') as source,
        coalesce(f.medium, '(all)') as medium,
        coalesce(f.campaign, '(all)') as campaign,
        cast(f.visitors as bigint) as visitors,
        cast(f.new_visitors as bigint) as new_visitors,
        cast(f.sessions as bigint) as sessions,
        cast(f.page_views as bigint) as page_views,
        cast(f.converted_sessions as bigint) as converted_sessions,
        cast(f.paying_buyers as bigint) as paying_buyers,
        cast(f.paid_orders as bigint) as paid_orders,
        yuan_to_cny(f.paid_cny) as reported_paid_cny,
        f.conversion_definition as record_conversion_definition,
        yuan_to_cny(f.ad_spend_cny) as ad_spend_cny,
        cast(f.ad_impressions as bigint) as ad_impressions,
        cast(f.ad_clicks as bigint) as ad_clicks,
        cast(f.ad_conversions as bigint) as ad_conversions,
        f.time_zone as time_zone,
        f.file as source_file,
        extracted_at
    from fields
),

final as (
    select
        channel, shop_id, report_source, report, report_date, source, medium, campaign,
        visitors, new_visitors, sessions, page_views, converted_sessions,
        paying_buyers, paid_orders, reported_paid_cny,
        -- Conversion is what each platform calls it, never one formula across platforms:
        -- GA4 counts converted sessions per session, the Chinese back offices paying buyers per visitor,
        -- door counters transactions per entry; every source but GA4 lands its definition in the record.
        case when report_source = 'ga4' then converted_sessions else paying_buyers end as conversion_numerator,
        case when report_source = 'ga4' then sessions else visitors end as conversion_denominator,
        case
            when report_source = 'ga4' then 'GA4: sessions with a purchase key event / sessions'
            else record_conversion_definition
        end as conversion_definition,
        ad_spend_cny, ad_impressions, ad_clicks, ad_conversions,
        time_zone, source_file, extracted_at
    from canonical
)

select * from final
