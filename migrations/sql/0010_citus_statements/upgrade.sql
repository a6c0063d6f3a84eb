-- 0010: claim ids unique per player. The reward grants' key becomes (user_id, claim_id), which a table
-- distributed by user_id can enforce; every claim id recorded so far was unique on its own, so it is
-- unique per player too. finish_reward_grant takes the player beside the claim id. The platform's
-- idempotency key is stored with each grant: the pair for new claims, the bare claim id (as the worker
-- sent it so far) for the grants claimed before, so a grant retried across the upgrade keeps its key.
ALTER TABLE challenge.reward_grants DROP CONSTRAINT reward_grants_pkey;
ALTER TABLE challenge.reward_grants ALTER COLUMN claim_id SET NOT NULL;
ALTER TABLE challenge.reward_grants ADD CONSTRAINT reward_grants_pkey PRIMARY KEY (user_id, claim_id);
DROP FUNCTION challenge.finish_reward_grant(text, boolean, text);
ALTER TABLE challenge.reward_grants ADD COLUMN idempotency_key text;
UPDATE challenge.reward_grants SET idempotency_key = claim_id;
ALTER TABLE challenge.reward_grants ALTER COLUMN idempotency_key SET NOT NULL;
ALTER TYPE challenge.reward_grant ADD ATTRIBUTE idempotency_key text;
