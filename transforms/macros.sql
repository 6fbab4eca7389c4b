-- Shared conversions used by every staging model. Money is exact: DECIMAL(18,2) yuan, never float.
-- A value that does not parse becomes null (try_cast), never an error that would stop every
-- channel: core.orders_checked sends an order missing a required value to audit.quarantine.

-- integer fen (Douyin, WeChat, POS) -> yuan
create or replace macro fen_to_cny(fen) as cast(try_cast(fen as decimal(18, 0)) * 0.01 as decimal(18, 2));

-- yuan decimal strings (TOP, JD, Youzan, Shopify) -> yuan; the text is parsed as a decimal, exactly
create or replace macro yuan_to_cny(yuan) as try_cast(yuan as decimal(18, 2));

-- 'yyyy-MM-dd HH:mm:ss' Beijing time with no offset (TOP, JD, PDD) -> UTC instant
create or replace macro cst_to_utc(text) as
    case when text is null or text = '' then null
         else timezone('Asia/Shanghai', try_strptime(text, '%Y-%m-%d %H:%M:%S')) end;

-- the China business date of an instant
create or replace macro china_date(ts) as cast(timezone('Asia/Shanghai', ts) as date);

-- epoch seconds (Douyin, WeChat, Meituan) -> UTC instant; 0 or null means "not happened"
create or replace macro epoch_to_utc(seconds) as
    case when try_cast(seconds as bigint) is null or try_cast(seconds as bigint) = 0 then null
         else to_timestamp(try_cast(seconds as bigint)) end;
