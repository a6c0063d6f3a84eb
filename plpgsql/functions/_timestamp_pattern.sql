-- challenge._timestamp_pattern() RETURNS text
--
-- Private: the one declaration of the timestamps every write accepts (occurred_at), as a regular
-- expression without anchors, for _is_zoned_timestamp (one value) and _first_bad_timestamp (a whole
-- batch at once). The Python writer's pre-check holds the same text (pgchallenge.writer.TIMESTAMP_PATTERN;
-- a test compares them). Accepted, exactly (ISO 8601 / RFC 3339):
--   YYYY-MM-DD, then T (or t, or a space), then hh:mm, optional :ss (60, a leap second, is the next
--   minute) with an optional fraction of 1 to 9 digits (rounded to microseconds), then Z (or z) or a UTC
--   offset +hh:mm, +hhmm or +hh (or -), at most 14:00 either way (the widest offset in use).
--   Years 1900..9998: every instant, and every period boundary it leads to (a month later at most, the
--   offset aside), stays within years 1..9999, which PostgreSQL's arithmetic and the clients (Python's
--   datetime, .NET, ...) can all hold; and an unset clock (Go's zero time, 0001-01-01) is refused rather
--   than counted. Months 01..12, days 01..31, hours 00..23. A day its month does not have (2026-02-30) is left to the
--   timestamptz cast, which refuses it with a catchable datetime_field_overflow.
-- Everything else is refused before the cast sees it: the cast accepts far more (time zone names,
-- "now", "BC", words it skips over) and raises raw errors for offsets beyond +-15:59. [0-9], not \d: the
-- same text must mean the same in Python, whose \d matches every Unicode digit. Inlined and folded into
-- a constant by the planner (plain SQL, IMMUTABLE, no SET clause).
CREATE OR REPLACE FUNCTION challenge._timestamp_pattern()
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $function$
    SELECT '(?:19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])'
        || '-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]'
        || '(?::(?:[0-5][0-9]|60)(?:\.[0-9]{1,9})?)?'
        || '(?:[Zz]|[+-](?:(?:0[0-9]|1[0-3])(?::?[0-5][0-9])?|14(?::?00)?))'::text;
$function$;
