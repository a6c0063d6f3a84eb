DROP FUNCTION IF EXISTS challenge.lease_reward_grants(text, integer, interval);
