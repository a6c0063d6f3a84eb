-- 0008: one write engine. Remembered event ids become unique per player, the write paths share one typed
-- form (challenge._write) and one engine (challenge._apply_writes), and ordered sources get watermarks.

-- Remembered event ids, unique per player: (user_id, event_id) is what a table distributed by user_id can
-- enforce. Ids remembered before this revision carry no player; they move to processed_events_legacy,
-- which the writes consult while it holds rows (prune_processed_events empties it by age).
-- (Copied, not renamed: on PostgreSQL 18 the renamed table would keep its NOT NULL constraints' names.)
CREATE TABLE challenge.processed_events_legacy (
    event_id text
        CONSTRAINT processed_events_legacy_pkey PRIMARY KEY
        CONSTRAINT processed_events_legacy_id_length CHECK (length(event_id) BETWEEN 1 AND 100),
    processed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO challenge.processed_events_legacy (event_id, processed_at)
SELECT e.event_id, e.processed_at
FROM challenge.processed_events AS e;
CREATE INDEX processed_events_legacy_processed_at_idx ON challenge.processed_events_legacy (processed_at);
DROP TABLE challenge.processed_events;

CREATE TABLE challenge.processed_events (
    user_id text NOT NULL,
    event_id text NOT NULL
        CONSTRAINT processed_events_id_length CHECK (length(event_id) BETWEEN 1 AND 100),
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_id)
);

-- Pruning by age without a B-tree on the hot path: ids arrive in time order, so a BRIN summary of
-- processed_at finds the old pages for a fraction of an index insert per id.
CREATE INDEX processed_events_processed_at_brin ON challenge.processed_events USING brin (processed_at);

-- Ordered sources (a Kafka partition, a replicated log, a file read in order): the highest position
-- applied per (source, partition), advanced in the same transaction as the effects, and the epoch of the
-- consumer that holds the partition (a lower epoch is fenced off).
CREATE TABLE challenge.source_positions (
    source text NOT NULL
        CONSTRAINT source_positions_source_length CHECK (length(source) BETWEEN 1 AND 200),
    partition text NOT NULL
        CONSTRAINT source_positions_partition_length CHECK (length(partition) BETWEEN 0 AND 200),
    position bigint NOT NULL,
    epoch bigint NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (source, partition)
);

-- One write for the engine: what every write path parses its payload into.
CREATE TYPE challenge._write AS (
    ord integer,
    user_id text,
    goal_id text,
    is_set boolean,
    amount integer,
    inc integer,
    event_id text,
    occurred_at timestamptz
);

-- The engine replaces the two batch bodies and their helpers; the public functions gain optional
-- arguments (created below), so their old signatures go.
DROP FUNCTION challenge.increment_progress_batch(jsonb);
DROP FUNCTION challenge.set_progress_batch(jsonb);
DROP FUNCTION challenge.record_events(jsonb);
DROP FUNCTION challenge._check_events(jsonb);
DROP FUNCTION challenge._remember_new_events(jsonb);
DROP FUNCTION challenge._apply_routed(jsonb, boolean);
DROP FUNCTION challenge._increment_batch(jsonb, boolean);
DROP FUNCTION challenge._set_batch(jsonb, boolean);
DROP FUNCTION challenge._merge_batch_results(jsonb, jsonb);
DROP FUNCTION challenge._batch_result(text[], jsonb);
-- Row-type arguments resolve to a shard's type on Citus: challenge._resets takes scalars.
DROP FUNCTION challenge._period_resets(challenge.progress, challenge.goals, timestamptz);
