-- Re-creates _remember_events as revision 0004 left it (its callers are restored above).
-- challenge._remember_events(p_items jsonb) RETURNS bigint[]
--
-- Private, shared by the batch writes. Remembers every event_id of the (already validated) items and
-- returns the 1-based positions of the items that are the first use of an event id never seen before;
-- every other item carrying an event id is a duplicate_event. Returns an empty array when no item
-- carries an event id.
--
-- Ids are inserted in sorted order, so two batches sharing event ids wait for each other in one
-- order and cannot deadlock; a concurrent transaction inserting the same id makes this one wait until
-- it commits (then the id counts as seen) or rolls back (then it is ours): an event is applied once.
--
-- enable_nestloop is off for this one statement: the planner cannot size the two CTEs and, left to
-- itself, joined them in a nested loop, comparing every id with every other (150 ms for 1,000 ids,
-- 23 s for 12,500). A hash or merge join does the same work in linear time.
CREATE OR REPLACE FUNCTION challenge._remember_events(p_items jsonb)
RETURNS bigint[]
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
AS $function$
    WITH first_use AS (
        SELECT DISTINCT ON (e.item ->> 'event_id')
            e.item ->> 'event_id' AS event_id,
            e.ord
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, ord)
        WHERE jsonb_typeof(e.item -> 'event_id') = 'string'
        ORDER BY e.item ->> 'event_id', e.ord
    ),
    fresh AS (
        INSERT INTO challenge.processed_events (event_id)
        SELECT f.event_id
        FROM first_use AS f
        ORDER BY f.event_id
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
    )
    SELECT coalesce(array_agg(f.ord), '{}')
    FROM first_use AS f
    JOIN fresh AS n ON n.event_id = f.event_id;
$function$;
