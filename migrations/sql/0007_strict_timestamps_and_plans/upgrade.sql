-- _remember_events (positions of the fresh items) gives way to _remember_new_events (a flag per item),
-- created below with its callers.
DROP FUNCTION challenge._remember_events(jsonb);
