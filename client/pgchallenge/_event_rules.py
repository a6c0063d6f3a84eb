"""The rules of ``record_events``, checked in Python before an event is buffered (pure: no I/O).

The event writers (``pgchallenge.writer``, which re-exports the public names) and ``pgchallenge ingest``
use these so that a malformed event fails at ``submit`` instead of costing a batch. The limits and the
timestamp pattern are the SQL's (``challenge._limits()``, ``challenge._timestamp_pattern()``); tests
compare them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pgchallenge.errors import InvalidEvent
from pgchallenge.models import Event, event_json

MAX_BATCH_EVENTS: Final = 50_000
"""The most events ``record_events`` accepts in one call."""

MAX_POSITION: Final = 9_223_372_036_854_775_807
"""The highest source position (PostgreSQL's bigint)."""

_ALLOWED_KEYS: Final = frozenset({"event_id", "user_id", "kind", "stat_code", "value", "inc", "occurred_at"})
_SOURCED_KEYS: Final = _ALLOWED_KEYS | {"position"}
# The SQL's limits (challenge._limits(); a test compares them).
_MAX_ID_LENGTH: Final = 100
_MAX_VALUE: Final = 2_147_483_647
_MAX_INC: Final = 1_000_000
_MAX_SOURCE_NAME: Final = 200


def _is_integer(value: object, low: int, high: int) -> bool:
    # JSON 3.0 is an integer for the SQL, Python's True is not a number for it. An int is compared as is:
    # float() of a huge one would overflow (or round a large position).
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, float) and not value.is_integer():
        return False
    return low <= value <= high


# The timestamps record_events accepts: the same text as the SQL's challenge._timestamp_pattern() (a test
# compares the two), which documents the forms. [0-9], not \d, so that it means the same in both.
TIMESTAMP_PATTERN: Final = (
    "(?:19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    "-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
    "(?::(?:[0-5][0-9]|60)(?:\\.[0-9]{1,9})?)?"
    "(?:[Zz]|[+-](?:(?:0[0-9]|1[0-3])(?::?[0-5][0-9])?|14(?::?00)?))"
)
_TIMESTAMP: Final = re.compile(TIMESTAMP_PATTERN)
_TIMESTAMP_FORMS: Final = (
    "(YYYY-MM-DDThh:mm[:ss[.fraction]] then Z or +hh:mm up to 14:00, years 1900 to 9998)"
)


def _bad_timestamp(text: str) -> bool:
    """Not of the SQL's form. A day its month does not have passes here: only the server's cast knows."""
    return _TIMESTAMP.fullmatch(text) is None


def check_event(event: Mapping[str, Any], *, sourced: bool = False) -> str | None:
    """What is wrong with an event, in ``record_events``' words, or None if it looks well-formed.

    The same rules as the SQL (``_check_events``), applied in Python so that a malformed event fails at
    ``submit`` instead of costing a batch. A value the SQL alone can judge (an impossible date such as
    ``2026-02-30T00:00:00Z``) passes here; the writer isolates such an event after the server rejects it.
    ``sourced``: the rules of a call by source position, where ``position`` is required and ``event_id``
    optional (without it, ``position`` is an unknown key). That positions increase is the caller's to
    check: it spans events.
    """

    def string(key: str) -> bool:
        value = event.get(key)
        return isinstance(value, str) and 1 <= len(value) <= _MAX_ID_LENGTH

    if (not sourced or event.get("event_id") is not None) and not string("event_id"):
        return "event_id must be a string of 1 to 100 characters"
    if sourced and not _is_integer(event.get("position"), 0, MAX_POSITION):
        got = "nothing" if event.get("position") is None else repr(event["position"])
        return f"position must be an integer between 0 and {MAX_POSITION}, got {got}"
    if not string("user_id"):
        return "user_id must be a string of 1 to 100 characters"
    allowed = _SOURCED_KEYS if sourced else _ALLOWED_KEYS
    unknown = sorted(set(event) - allowed)
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(sorted(allowed))}"
    kind = event.get("kind")
    if kind not in ("login", "statistic"):
        return f'kind must be "login" or "statistic", got {kind!r}'
    present = {key for key, value in event.items() if value is not None}
    if kind == "login" and present & {"stat_code", "value", "inc"}:
        return "a login event carries no stat_code, value or inc"
    if kind == "statistic" and not string("stat_code"):
        return "stat_code must be a string of 1 to 100 characters for a statistic event"
    if "value" in present and not _is_integer(event["value"], 0, _MAX_VALUE):
        return f"value must be an integer between 0 and {_MAX_VALUE}, got {event['value']!r}"
    if "inc" in present and not _is_integer(event["inc"], 1, _MAX_INC):
        return f"inc must be an integer between 1 and {_MAX_INC}, got {event['inc']!r}"
    occurred_at = event.get("occurred_at")
    if occurred_at is not None and (not isinstance(occurred_at, str) or _bad_timestamp(occurred_at)):
        return (
            "occurred_at must be an ISO 8601 timestamp with a UTC offset or Z "
            f"{_TIMESTAMP_FORMS}, got {occurred_at!r}"
        )
    return None


def prepare(event: Event | Mapping[str, Any], sourced: bool) -> dict[str, Any]:
    """The event's JSON object, or InvalidEvent."""
    if not isinstance(event, (Event, Mapping)):
        raise InvalidEvent(f"an event must be a mapping or a pgchallenge.Event, got {type(event).__name__}")
    try:
        document = event_json(event)
    except ValueError as exc:  # a naive datetime
        raise InvalidEvent(str(exc)) from exc
    problem = check_event(document, sourced=sourced)
    if problem is not None:
        raise InvalidEvent(problem)
    return document


def position_of(document: Mapping[str, Any], sourced: bool) -> int | None:
    """The source position of a checked event (None without a source)."""
    return int(document["position"]) if sourced else None


def check_source(source: str | None, partition: str, epoch: int | None) -> None:
    """The SQL's rules for a source (CH003), checked when the writer is made rather than at each batch."""
    if source is None:
        if partition or epoch is not None:
            raise ValueError("source_partition and epoch are for a writer with a source")
        return
    if not 1 <= len(source) <= _MAX_SOURCE_NAME:
        raise ValueError(f"source must be a string of 1 to {_MAX_SOURCE_NAME} characters, got {source!r}")
    if len(partition) > _MAX_SOURCE_NAME:
        raise ValueError(f"the partition must be at most {_MAX_SOURCE_NAME} characters")
    if epoch is not None and not _is_integer(epoch, 0, MAX_POSITION):
        raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
