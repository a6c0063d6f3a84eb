DROP FUNCTION IF EXISTS challenge.claim_goal(text, text, text);
