DROP FUNCTION IF EXISTS challenge._parse_write_items(jsonb, text, OUT writes challenge._write[], OUT user_ids text[], OUT event_ids text[]);
