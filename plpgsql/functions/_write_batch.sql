-- challenge._write_batch(p_items jsonb, p_value_key text, p_detail boolean) RETURNS jsonb
--
-- Private: the body of increment_progress_batch (p_value_key 'delta') and set_progress_batch ('value'):
-- parse and validate the payload once (_parse_write_items), remember its event ids
-- (_remember_new_events, only when an item carries one), apply it (_apply_writes) and build the result
-- (_write_result; with p_detail, plus "items": _write_item_details).
CREATE OR REPLACE FUNCTION challenge._write_batch(p_items jsonb, p_value_key text, p_detail boolean)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_ledger boolean := challenge._ledger_enabled();
    v_parsed record;
    v_fresh boolean[];
    v_applied record;
    v_result jsonb;
BEGIN
    SELECT * INTO v_parsed FROM challenge._parse_write_items(p_items, p_value_key);
    IF array_remove(v_parsed.event_ids, NULL) <> '{}' THEN
        v_fresh := challenge._remember_new_events(v_parsed.user_ids, v_parsed.event_ids);
    END IF;
    SELECT * INTO v_applied FROM challenge._apply_writes(v_parsed.writes, v_fresh, v_ledger, p_detail);

    v_result := challenge._write_result(v_applied.counts, v_applied.completed_users, v_applied.completed_goals);
    IF p_detail THEN
        v_result := v_result || jsonb_build_object('items', (
            SELECT coalesce(jsonb_agg(d.item ORDER BY d.nth), '[]'::jsonb)
            FROM challenge._write_item_details(
                v_parsed.writes, v_applied.outcomes, NULL, v_applied.completed_users, v_applied.completed_goals
            ) AS d
        ));
    END IF;
    RETURN v_result;
END;
$function$;
