DROP FUNCTION IF EXISTS challenge.finish_reward_grant(text, boolean, text);
