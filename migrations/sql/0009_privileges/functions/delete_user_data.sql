-- challenge.delete_user_data(p_user_id text) RETURNS bigint
--
-- Erases one player (GDPR): deletes every row that names p_user_id, in every table (progress rows,
-- claims with their reward grants once granted or failed, the audit ledger's history, the player's
-- remembered event ids), and returns how many rows it deleted (0 for an unknown player, no error).
-- Remembered ids are per player since revision 0008, so they go too: a redelivery of one of the
-- player's old events after the erasure counts again if the player is assigned goals anew (ids from
-- before 0008 name no player and stay until pruned). A reward still pending delivery is never dropped: while the player has a pending grant the
-- call raises CH026 reward_grant_pending (DETAIL lists the claim ids) and deletes nothing; call it
-- again once the reward worker has granted them (or left them failed). The player's progress rows
-- are locked first, so a claim racing with the deletion either commits before the check (and is
-- seen pending) or finds no row (CH021).
CREATE OR REPLACE FUNCTION challenge.delete_user_data(p_user_id text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_pending text[];
    v_grants bigint;
    v_progress bigint;
    v_ledger bigint;
    v_events bigint;
BEGIN
    PERFORM challenge._check_identifier('user_id', p_user_id);

    PERFORM
    FROM challenge.progress AS p
    WHERE p.user_id = p_user_id
    ORDER BY p.goal_id
    FOR UPDATE OF p;

    SELECT array_agg(r.claim_id ORDER BY r.claim_id)
    INTO v_pending
    FROM challenge.reward_grants AS r
    WHERE r.user_id = p_user_id
        AND r.state = 'pending';
    IF v_pending IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH026',
            MESSAGE = format('player %s has %s reward grant(s) pending delivery', p_user_id,
                             cardinality(v_pending)),
            DETAIL = format('Pending claims: %s.', array_to_string(v_pending, ', ')),
            HINT = 'Nothing was deleted. Run it again once the reward worker has granted them (or they'
                || ' failed): deleting now would lose a reward owed to the player.';
    END IF;

    WITH gone AS (
        DELETE FROM challenge.reward_grants AS r
        WHERE r.user_id = p_user_id
            AND r.state IN ('granted', 'failed')
        RETURNING 1
    )
    SELECT count(*)
    INTO v_grants
    FROM gone;

    WITH gone AS (
        DELETE FROM challenge.progress AS p
        WHERE p.user_id = p_user_id
        RETURNING 1
    )
    SELECT count(*)
    INTO v_progress
    FROM gone;

    -- Every partition's index on (user_id, goal_id, change_id) finds the player's history.
    WITH gone AS (
        DELETE FROM challenge.ledger AS l
        WHERE l.user_id = p_user_id
        RETURNING 1
    )
    SELECT count(*)
    INTO v_ledger
    FROM gone;

    WITH gone AS (
        DELETE FROM challenge.processed_events AS e
        WHERE e.user_id = p_user_id
        RETURNING 1
    )
    SELECT count(*)
    INTO v_events
    FROM gone;

    RETURN v_grants + v_progress + v_ledger + v_events;
END;
$function$;
