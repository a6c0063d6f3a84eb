DROP FUNCTION IF EXISTS challenge._shard_stats(regclass[], text[]);
