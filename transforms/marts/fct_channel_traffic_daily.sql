-- grain: one row per channel, shop, traffic date, report source and source / medium / campaign
-- key: channel, shop_id, traffic_date, report_source, source, medium, campaign
-- not_null: time_zone
-- description: Daily traffic and ad spend per channel and shop, broken down by source / medium /
-- campaign where the platform knows them (GA4) and by store for the stores' door counters
-- (pos_footfall); the marketplaces' export files give one shop-level row a day, the ad platforms
-- one row per ad account and day. Sessions, page views, ad spend,
-- clicks and impressions add up across rows; visitors do NOT (one person visits through several
-- sources and on several days): for a shop's unique visitors of a day use marts.fct_channel_daily,
-- and never sum visitors over days, sources or shops. Example: select channel, source, medium,
-- sum(sessions), sum(converted_sessions) from marts.fct_channel_traffic_daily group by all.
-- column channel: Sales channel code.
-- column shop_id: Shop the traffic belongs to.
-- column traffic_date: The day, in time_zone (China days, except GA4 properties that report in their own zone).
-- column report_source: ga4, oceanengine, simba (直通车), exports (生意参谋 / 京东商智 / 拼多多数据中心 files) or pos_footfall (store door counters).
-- column source: Traffic source (GA4 sessionSource), the ad platform for ad rows, the store id for door-counter rows, '(all)' for shop-level export rows.
-- column medium: Traffic medium (GA4 sessionMedium), 'cpc' for ad rows, 'store' for door-counter rows, '(all)' for shop-level export rows.
-- column campaign: Campaign (GA4 sessionCampaignName), or '(all)'.
-- column visitors: Unique visitors of this row only (GA4 totalUsers of the source, 访客数 of the shop): not additive across rows or days. Door-counter rows (pos_footfall) count entries (进店人数) instead, which do add up across stores.
-- column new_visitors: First-time visitors (GA4).
-- column sessions: Sessions (GA4); additive.
-- column page_views: Page views; additive.
-- column converted_sessions: GA4 sessions with a purchase key event; additive.
-- column paying_buyers: Paying buyers as the shop's back office reports them (exports), not additive across days; POS transactions (成交笔数) for door-counter rows.
-- column ad_spend_cny: Ad spend in CNY; additive.
-- column ad_impressions: Ad impressions; additive.
-- column ad_clicks: Ad clicks; additive.
-- column ad_conversions: Conversions the ad platform attributes to its ads.
-- column time_zone: IANA zone of traffic_date.
with reports as (
    select * from staging.stg_traffic__reports
),

breakdowns as (
    -- the sources that break a shop's days down (GA4 by source / medium / campaign, door counters
    -- by store)
    select distinct report_source, channel, shop_id
    from reports
    where report in ('by_source', 'by_store')
),

rows_for_breakdown as (
    -- Day totals of those sources are left out: the breakdown rows hold the same sessions / entries
    -- (the day's unique visitors, which a breakdown cannot give, are in fct_channel_daily)
    select r.*
    from reports as r
    anti join breakdowns as b
        on r.report = 'day_total'
        and r.report_source = b.report_source
        and r.channel = b.channel
        and r.shop_id = b.shop_id
),

final as (
    select
        channel,
        shop_id,
        report_date as traffic_date,
        report_source,
        case when report = 'ads' then report_source else source end as source,
        case when report = 'ads' then 'cpc' else medium end as medium,
        campaign,
        visitors,
        new_visitors,
        sessions,
        page_views,
        converted_sessions,
        paying_buyers,
        ad_spend_cny,
        ad_impressions,
        ad_clicks,
        ad_conversions,
        time_zone
    from rows_for_breakdown
)

select * from final
