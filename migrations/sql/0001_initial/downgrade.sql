-- Removes every object of revision 0001 (the Alembic version table is handled by env.py).
DROP VIEW IF EXISTS challenge.goal_progress CASCADE;
DROP TABLE IF EXISTS challenge.processed_events;
DROP TABLE IF EXISTS challenge.progress;
DROP TABLE IF EXISTS challenge.goals;
DROP TABLE IF EXISTS challenge.challenges;
DO $$
DECLARE
    v_function regprocedure;
BEGIN
    FOR v_function IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = 'challenge'::regnamespace
    LOOP
        EXECUTE format('DROP FUNCTION %s', v_function);
    END LOOP;
END;
$$;
