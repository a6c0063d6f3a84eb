"""CH SQLSTATEs become pgchallenge exceptions; every other database error stays a psycopg error."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgchallenge import (
    ERROR_CLASSES,
    ChallengeError,
    ChallengeNotFound,
    Client,
    GoalNotFound,
    IncrementItem,
    InvalidArgument,
    InvalidBatch,
    InvalidConfig,
)
from pgchallenge.errors import from_psycopg, translated_errors

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "plpgsql" / "functions"

EXPECTED = {
    "CH001": InvalidConfig,
    "CH002": InvalidBatch,
    "CH003": InvalidArgument,
    "CH010": GoalNotFound,
    "CH011": ChallengeNotFound,
}


def raise_in_sql(db: psycopg.Connection[Any], sqlstate: str) -> None:
    db.execute(
        "DO $$ BEGIN RAISE EXCEPTION 'synthetic failure' USING ERRCODE = '"
        + sqlstate
        + "', DETAIL = 'The detail.', HINT = 'The hint.'; END $$"
    )


def test_registry_holds_the_contract_codes() -> None:
    assert {code: cls for code, cls in ERROR_CLASSES.items() if code in EXPECTED} == EXPECTED
    for code, cls in ERROR_CLASSES.items():
        assert issubclass(cls, ChallengeError)
        assert cls.code == code


def test_registry_matches_the_codes_the_sql_raises() -> None:
    raised = set()
    for path in FUNCTIONS_DIR.glob("*.sql"):
        raised |= set(re.findall(r"ERRCODE\s*=\s*'(CH\d{3})'", path.read_text()))
    assert raised, "no CH code found in plpgsql/functions"
    assert raised == set(ERROR_CLASSES)


@pytest.mark.parametrize("sqlstate", sorted(ERROR_CLASSES))
def test_each_code_maps_to_its_class(db: psycopg.Connection[Any], sqlstate: str) -> None:
    with pytest.raises(ChallengeError) as caught, translated_errors():
        raise_in_sql(db, sqlstate)
    error = caught.value
    assert type(error) is ERROR_CLASSES[sqlstate]
    assert (error.sqlstate, error.message, error.detail, error.hint) == (
        sqlstate,
        "synthetic failure",
        "The detail.",
        "The hint.",
    )
    assert isinstance(error.__cause__, psycopg.Error)
    assert error.error is error.__cause__
    assert error.diag.sqlstate == sqlstate
    assert "synthetic failure" in str(error)


def test_unregistered_ch_code_raises_the_base_class(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(ChallengeError) as caught, translated_errors():
        raise_in_sql(db, "CH099")
    assert type(caught.value) is ChallengeError
    assert caught.value.sqlstate == "CH099"


@pytest.mark.parametrize(
    ("sqlstate", "psycopg_class"),
    [
        ("P0001", psycopg.errors.RaiseException),
        ("40001", psycopg.errors.SerializationFailure),
        ("23505", psycopg.errors.UniqueViolation),
    ],
    ids=["raise_exception", "serialization_failure", "unique_violation"],
)
def test_other_codes_stay_psycopg_errors(
    db: psycopg.Connection[Any], sqlstate: str, psycopg_class: type[psycopg.Error]
) -> None:
    with pytest.raises(psycopg_class) as caught, translated_errors():
        raise_in_sql(db, sqlstate)
    assert not isinstance(caught.value, ChallengeError)
    assert from_psycopg(caught.value) is None


def test_adding_a_code_is_one_class_statement() -> None:
    try:

        class ClaimNotFound(ChallengeError, code="CH098", name="claim_not_found"):
            pass

        assert ERROR_CLASSES["CH098"] is ClaimNotFound
        assert ClaimNotFound.name == "claim_not_found"
        with pytest.raises(ValueError, match="CH098"):

            class Again(ChallengeError, code="CH098"):
                pass

    finally:
        ERROR_CLASSES.pop("CH098", None)


def test_errors_pickle(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(InvalidBatch) as caught, translated_errors():
        raise_in_sql(db, "CH002")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is InvalidBatch
    assert (copy.sqlstate, copy.message, copy.detail) == ("CH002", "synthetic failure", "The detail.")


# Real calls: each function raises its documented code through the client.


def test_bad_config_raises_invalid_config(db: psycopg.Connection[Any], config: dict[str, Any]) -> None:
    config["challenges"][0]["goals"][0]["requirement"]["targetValue"] = 0
    with pytest.raises(InvalidConfig) as caught:
        Client(db).load_config(config)
    assert caught.value.sqlstate == "CH001"
    assert isinstance(caught.value, ChallengeError)


def test_bad_batch_raises_invalid_batch(client: Client) -> None:
    with pytest.raises(InvalidBatch) as caught:
        client.increment_progress_batch(
            [IncrementItem("u1", "kill-3"), IncrementItem("u1", "kill-3", delta=0)]
        )
    assert caught.value.sqlstate == "CH002"
    assert caught.value.detail is not None
    with pytest.raises(InvalidBatch):
        client.set_progress_batch([{"user_id": "u1", "goal_id": "level-10", "value": -1}])


def test_bad_argument_raises_invalid_argument(client: Client) -> None:
    with pytest.raises(InvalidArgument) as caught:
        client.increment_progress("u1", "kill-3", delta=0)
    assert caught.value.sqlstate == "CH003"
    with pytest.raises(InvalidArgument):
        client.increment_progress("u1", "kill-3", event_id="")


def test_unknown_goal_raises_goal_not_found(client: Client) -> None:
    with pytest.raises(GoalNotFound) as caught:
        client.set_goal_active("u1", "no-such-goal", True)
    assert caught.value.sqlstate == "CH010"


def test_unknown_challenge_raises_challenge_not_found(client: Client) -> None:
    with pytest.raises(ChallengeNotFound) as caught:
        client.get_user_progress("u1", challenge_id="no-such-challenge")
    assert caught.value.sqlstate == "CH011"


def test_invalid_json_text_stays_a_psycopg_error(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.DataError) as caught:
        Client(db).load_config("{not json")
    assert not isinstance(caught.value, ChallengeError)


def test_closed_connection_stays_an_operational_error(db_url: str) -> None:
    conn = psycopg.connect(db_url, autocommit=True)
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        Client(conn).get_progress("u1", "kill-3")
