-- challenge._access_rules() RETURNS TABLE (function_name text, roles text[])
--
-- Private: the one list of who may execute which public function, by role kind (the deployment's group
-- roles, challenge.deployment_roles). challenge._apply_access grants exactly this and refuses to run
-- while a public function has no entry here or an entry names no function; docs/api.md's privilege table
-- shows the same list (a test compares them). Private functions (a name starting with "_") are never
-- granted: they run inside the public ones, with the owner's rights.
--   app     the game service: player writes, reads, claims, ingestion by source position;
--   reader  reads, explain_progress and status;
--   admin   config, maintenance, data deletion, the reward outbox, reads and status.
CREATE OR REPLACE FUNCTION challenge._access_rules()
RETURNS TABLE (function_name text, roles text[])
LANGUAGE sql
IMMUTABLE
AS $function$
    SELECT r.function_name, r.roles
    FROM (
        VALUES
            ('initialize_player', ARRAY['app']),
            ('set_goal_active', ARRAY['app']),
            ('select_goals', ARRAY['app']),
            ('random_select_goals', ARRAY['app']),
            ('increment_progress', ARRAY['app']),
            ('increment_progress_batch', ARRAY['app']),
            ('set_progress_batch', ARRAY['app']),
            ('record_events', ARRAY['app']),
            ('acquire_source', ARRAY['app']),
            ('claim_goal', ARRAY['app']),
            ('get_progress', ARRAY['app', 'reader', 'admin']),
            ('get_user_progress', ARRAY['app', 'reader', 'admin']),
            ('get_rotation_status', ARRAY['app', 'reader', 'admin']),
            ('explain_progress', ARRAY['app', 'reader', 'admin']),
            ('status', ARRAY['reader', 'admin']),
            ('load_config', ARRAY['admin']),
            ('set_ledger', ARRAY['admin']),
            ('lease_reward_grants', ARRAY['admin']),
            ('finish_reward_grant', ARRAY['admin']),
            ('delete_user_data', ARRAY['admin']),
            ('delete_expired_progress', ARRAY['admin']),
            ('prune_processed_events', ARRAY['admin']),
            ('create_ledger_partitions', ARRAY['admin']),
            ('prune_ledger', ARRAY['admin'])
    ) AS r (function_name, roles);
$function$;
