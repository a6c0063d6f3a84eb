"""``pgchallenge citus distribute``: the plan's statements in order, and the refusals a plain server gives.

The distribution itself needs a Citus coordinator: tests/citus runs it on one (PGCHALLENGE_CITUS_URL).
"""

from __future__ import annotations

import pytest
from pgchallenge import cli
from pgchallenge.citus import ForeignKey, Plan


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_server_without_citus_is_refused_with_what_to_do(
    capsys: pytest.CaptureFixture[str], db_url: str
) -> None:
    for extra in ((), ("--sql",)):
        status, out, err = run(capsys, "citus", "distribute", *extra, "--database-url", db_url)
        assert (status, out) == (1, "")
        assert "the citus extension is not installed in this database: CREATE EXTENSION citus" in err


KEY = ForeignKey("challenge.goals", "goals_challenge_id_fkey", "FOREIGN KEY (challenge_id) REFERENCES x(y)")


def test_the_plan_drops_the_keys_distributes_then_adds_them_back_and_records_it() -> None:
    plan = Plan(
        reference_tables=("challenge.goals",),
        distributed_tables=("challenge.progress", "challenge.ledger"),
        functions=(("challenge.get_progress(text,text)", True), ("challenge._outcome(boolean)", False)),
        foreign_keys=(KEY,),
        recorded=False,
    )
    assert plan.statements() == [
        'ALTER TABLE challenge.goals DROP CONSTRAINT "goals_challenge_id_fkey";',
        "SELECT create_reference_table('challenge.goals');",
        "SELECT create_distributed_table('challenge.progress', 'user_id');",
        "SELECT create_distributed_table('challenge.ledger', 'user_id',"
        " colocate_with => 'challenge.progress');",
        'ALTER TABLE challenge.goals ADD CONSTRAINT "goals_challenge_id_fkey"'
        " FOREIGN KEY (challenge_id) REFERENCES x(y);",
        "SELECT create_distributed_function('challenge.get_progress(text,text)', 'p_user_id',"
        " colocate_with => 'challenge.progress');",
        "SELECT create_distributed_function('challenge._outcome(boolean)');",
        "INSERT INTO challenge.deployment_settings (name, value) VALUES ('distributed', 'citus')"
        " ON CONFLICT (name) DO UPDATE SET value = excluded.value;",
    ]


def test_a_distributed_database_has_nothing_left_to_do() -> None:
    assert Plan((), (), (), (), recorded=True).statements() == []
