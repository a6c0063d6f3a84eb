"""Types shared by the migration tests."""

from __future__ import annotations

from collections.abc import Callable

# Creates an empty database on the test server and returns its conninfo (the new_database fixture).
NewDatabase = Callable[[], str]
