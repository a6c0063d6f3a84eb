-- challenge._remember_new_events(p_user_ids text[], p_event_ids text[]) RETURNS boolean[]
--
-- Private, shared by the write paths. Remembers every (user_id, event_id) pair of the (already validated)
-- writes, given by position, and returns one flag per position: true for the first use of a pair never
-- seen before; false for a position without an event id and for every other use of a pair, which makes
-- that write a duplicate_event. An event id is unique within its player (the key a table distributed by
-- user_id can enforce). Ids remembered before revision 0008 carry no player
-- (challenge.processed_events_legacy): while that table holds rows, an id found there is seen too.
--
-- Why a flag array: callers read it per write by subscript, which costs the same in every plan (joining
-- a list of positions let PL/pgSQL's generic plan loop over the list per write).
--
-- Pairs are inserted in sorted order, so two calls sharing event ids wait for each other in one order
-- and cannot deadlock; a concurrent transaction inserting the same pair makes this one wait until it
-- commits (then the pair counts as seen) or rolls back (then it is ours): an event is applied once.
--
-- enable_nestloop is off: the planner cannot size the CTEs and, left to itself, joined them in a nested
-- loop (quadratic); hash joins do the same work in linear time.
CREATE OR REPLACE FUNCTION challenge._remember_new_events(p_user_ids text[], p_event_ids text[])
RETURNS boolean[]
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_nestloop = off
AS $function$
    WITH item AS MATERIALIZED (
        SELECT i.user_id, i.event_id, i.ord
        FROM unnest(p_user_ids, p_event_ids) WITH ORDINALITY AS i(user_id, event_id, ord)
    ),
    first_use AS (
        SELECT DISTINCT ON (i.user_id, i.event_id) i.user_id, i.event_id, i.ord
        FROM item AS i
        WHERE i.event_id IS NOT NULL
        ORDER BY i.user_id, i.event_id, i.ord
    ),
    fresh AS (
        INSERT INTO challenge.processed_events (user_id, event_id)
        SELECT f.user_id, f.event_id
        FROM first_use AS f
        -- One probe of an empty table per call once the legacy ids are pruned (short-circuit OR).
        WHERE NOT EXISTS (SELECT FROM challenge.processed_events_legacy)
            OR NOT EXISTS (SELECT FROM challenge.processed_events_legacy AS l WHERE l.event_id = f.event_id)
        ORDER BY f.user_id, f.event_id
        ON CONFLICT (user_id, event_id) DO NOTHING
        RETURNING user_id, event_id
    ),
    fresh_use AS (
        SELECT f.ord
        FROM first_use AS f
        JOIN fresh AS n ON n.user_id = f.user_id AND n.event_id = f.event_id
    )
    SELECT coalesce(array_agg(u.ord IS NOT NULL ORDER BY i.ord), '{}')
    FROM item AS i
    LEFT JOIN fresh_use AS u ON u.ord = i.ord;
$function$;
