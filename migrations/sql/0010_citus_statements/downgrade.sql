-- 0010 downgrade: claim ids unique on their own again, and finish_reward_grant by claim id alone. Refused
-- while two players have used the same claim id (the earlier key cannot hold both).
DO $unique$
DECLARE
    v_claim_id text;
BEGIN
    SELECT r.claim_id INTO v_claim_id
    FROM challenge.reward_grants AS r
    GROUP BY r.claim_id
    HAVING count(*) > 1
    ORDER BY r.claim_id
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'CH003',
            MESSAGE = pg_catalog.format('invalid argument: claim id %s is used by several players', v_claim_id),
            HINT = 'Before revision 0010 a claim id was unique across players: this database cannot go back.';
    END IF;
END;
$unique$;
DROP FUNCTION challenge.finish_reward_grant(text, text, boolean, text);
ALTER TYPE challenge.reward_grant DROP ATTRIBUTE idempotency_key;
ALTER TABLE challenge.reward_grants DROP COLUMN idempotency_key;
ALTER TABLE challenge.reward_grants DROP CONSTRAINT reward_grants_pkey;
ALTER TABLE challenge.reward_grants ADD CONSTRAINT reward_grants_pkey PRIMARY KEY (claim_id);
