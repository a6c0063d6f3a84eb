DROP FUNCTION IF EXISTS challenge._write_item_details(challenge._write[], text[], integer[], text[], text[]);
