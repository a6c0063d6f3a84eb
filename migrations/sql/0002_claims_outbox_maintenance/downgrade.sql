-- Removes exactly what revision 0002 added to the schema (its functions are dropped before this runs).
DROP TYPE IF EXISTS challenge.reward_grant;
DROP INDEX IF EXISTS challenge.processed_events_processed_at_idx;
DROP INDEX IF EXISTS challenge.progress_expires_at_idx;
DROP TABLE IF EXISTS challenge.reward_grants;
