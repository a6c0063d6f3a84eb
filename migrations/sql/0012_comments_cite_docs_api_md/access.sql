-- After this revision's functions: grant exactly what challenge._access_rules declares.
SELECT challenge._apply_access();
