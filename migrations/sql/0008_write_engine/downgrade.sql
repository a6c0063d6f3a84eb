-- Back to 0007, after the engine's own functions are dropped and before the functions 0008 replaced are
-- restored: the public functions' new signatures go,
-- and remembered ids return to one table keyed by event id alone (ids kept from both tables).
DROP FUNCTION challenge.increment_progress_batch(jsonb, boolean);
DROP FUNCTION challenge.set_progress_batch(jsonb, boolean);
DROP FUNCTION challenge.record_events(jsonb, boolean, text, text, bigint);
DROP FUNCTION challenge._check_events(jsonb, boolean);
DROP FUNCTION challenge._remember_new_events(text[], text[]);
DROP TYPE challenge._write;
DROP TABLE challenge.source_positions;

-- Built under a temporary name, its NOT NULL constraints named as 0007's (PostgreSQL 18 names them).
CREATE TABLE challenge.processed_events_0007 (
    event_id text CONSTRAINT processed_events_event_id_not_null NOT NULL PRIMARY KEY
        CONSTRAINT processed_events_id_length CHECK (length(event_id) BETWEEN 1 AND 100),
    processed_at timestamptz CONSTRAINT processed_events_processed_at_not_null NOT NULL DEFAULT now()
);
INSERT INTO challenge.processed_events_0007 (event_id, processed_at)
SELECT u.event_id, min(u.processed_at)
FROM (
    SELECT e.event_id, e.processed_at FROM challenge.processed_events AS e
    UNION ALL
    SELECT l.event_id, l.processed_at FROM challenge.processed_events_legacy AS l
) AS u
GROUP BY u.event_id;
DROP TABLE challenge.processed_events;
DROP TABLE challenge.processed_events_legacy;
ALTER TABLE challenge.processed_events_0007 RENAME TO processed_events;
ALTER INDEX challenge.processed_events_0007_pkey RENAME TO processed_events_pkey;
CREATE INDEX processed_events_processed_at_idx ON challenge.processed_events (processed_at);
