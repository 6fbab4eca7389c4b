-- Shared conversions used by every staging model. Money is exact: DECIMAL(18,2) yuan, never float.

-- integer fen (Douyin, WeChat, POS) -> yuan
create or replace macro fen_to_cny(fen) as cast(cast(fen as decimal(18, 0)) * 0.01 as decimal(18, 2));

-- yuan decimal strings (TOP, JD, Youzan, Shopify) -> yuan; the text is parsed as a decimal, exactly
create or replace macro yuan_to_cny(yuan) as cast(yuan as decimal(18, 2));

-- 'yyyy-MM-dd HH:mm:ss' Beijing time with no offset (TOP, JD, PDD) -> UTC instant
create or replace macro cst_to_utc(text) as
    case when text is null or text = '' then null
         else timezone('Asia/Shanghai', strptime(text, '%Y-%m-%d %H:%M:%S')) end;

-- the China business date of an instant
create or replace macro china_date(ts) as cast(timezone('Asia/Shanghai', ts) as date);

-- epoch seconds (Douyin, WeChat, Meituan) -> UTC instant; 0 or null means "not happened"
create or replace macro epoch_to_utc(seconds) as
    case when seconds is null or cast(seconds as bigint) = 0 then null
         else to_timestamp(cast(seconds as bigint)) end;
