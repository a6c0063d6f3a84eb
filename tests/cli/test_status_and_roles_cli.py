"""``pgchallenge status`` and ``pgchallenge roles``, and the formatting in pgchallenge.metrics.

The roles commands run on databases of their own, migrated with a prefix of the test's (roles are
cluster-wide): the ``deployment`` fixture drops its databases, then every role with that prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.script import ScriptDirectory
from pgchallenge import Client, StatusMetric, cli, migrate
from pgchallenge.demo import example_config_text
from pgchallenge.metrics import format_value, prometheus_text, status_table

from tests.rolehelpers import Cluster, prefixed_cluster


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- pgchallenge.metrics --------------------------------------------------------------------------------


def metric(
    name: str, value: float | None, labels: dict[str, str] | None = None, exact: bool = True, help: str = "h"
) -> StatusMetric:
    return StatusMetric(name, labels or {}, value, exact, help)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (3.0, "3"),
        (-2.0, "-2"),
        (16384.0, "16384"),
        (1e15, "1000000000000000"),
        (0.5, "0.5"),
        (1234.25, "1234.25"),
        (1 / 3, repr(1 / 3)),
        (None, "NaN"),
    ],
)
def test_format_value(value: float | None, text: str) -> None:
    assert format_value(value) == text
    if value is not None:
        assert float(text) == value  # round-trips exactly


def test_label_values_are_escaped() -> None:
    text = prometheus_text([metric("m", 1.0, {"path": 'C:\\dir "x"\nnext'})])
    assert text.splitlines()[-1] == 'm{path="C:\\\\dir \\"x\\"\\nnext"} 1'


def test_help_escapes_backslash_and_newline_but_not_quotes() -> None:
    text = prometheus_text([metric("m", 1.0, help='a\\b "c"\nd')])
    assert text.splitlines()[0] == '# HELP m a\\\\b "c"\\nd'


def test_labels_are_sorted_and_help_and_type_come_once_per_name() -> None:
    text = prometheus_text(
        [
            metric("a", 1.0, {"z": "1", "b": "2"}, help="first"),
            metric("a", 2.0, {"z": "3", "b": "4"}, help="first"),
            metric("b", None),
        ]
    )
    assert text == (
        "# HELP a first\n"
        "# TYPE a gauge\n"
        'a{b="2",z="1"} 1\n'
        'a{b="4",z="3"} 2\n'
        "# HELP b h\n"
        "# TYPE b gauge\n"
        "b NaN\n"
    )


def test_empty_input() -> None:
    assert prometheus_text([]) == ""
    assert status_table([]) == ""


def test_status_table_aligns_and_marks_estimates() -> None:
    table = status_table(
        [
            metric("short", 1.0),
            metric("a_longer_name", 12345.0, {"k": "v"}, exact=False),
            metric("never", None, exact=False),
        ]
    )
    assert table.splitlines() == [
        "short                     1",
        'a_longer_name{k="v"}  12345  ~ estimate',
        "never                   NaN  ~ estimate",
    ]


# --- a parser of the exposition format, for the command's output ---------------------------------------

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


@dataclass
class Family:
    help: str
    type: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_exposition(text: str) -> dict[str, Family]:
    """Text format 0.0.4: HELP and TYPE once per name before its samples, each family in one group."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    current: str | None = None
    pending_help: tuple[str, str] | None = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP ") :].partition(" ")
            assert name not in families, f"HELP twice for {name}"
            pending_help = (name, help_text)
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE ") :].partition(" ")
            assert pending_help is not None and pending_help[0] == name, line
            assert kind == "gauge"
            families[name] = Family(unescape(pending_help[1]), kind)
            current, pending_help = name, None
        else:
            match = SAMPLE.match(line)
            assert match is not None, line
            name, labels_text, value = match.groups()
            assert name == current, f"sample of {name} outside its group"
            labels: dict[str, str] = {}
            if labels_text:
                consumed = 0
                for label in LABEL.finditer(labels_text):
                    assert label.start() == consumed, labels_text
                    labels[label.group(1)] = unescape(label.group(2))
                    consumed = label.end()
                assert consumed == len(labels_text), labels_text
            families[name].samples.append((labels, float(value)))
    return families


def test_the_parser_reads_back_escaped_labels() -> None:
    nasty = 'a\\b"c\nd'
    families = parse_exposition(prometheus_text([metric("m", 2.5, {"x": nasty, "y": ""}, help="l1\nl2")]))
    assert families["m"].help == "l1\nl2"
    assert families["m"].samples == [({"x": nasty, "y": ""}, 2.5)]


# --- pgchallenge status -----------------------------------------------------------------------------------


def test_status_table(capsys: pytest.CaptureFixture[str], db_url: str, db: psycopg.Connection[Any]) -> None:
    status, out, err = run(capsys, "status", "--database-url", db_url)
    assert status == 0, err
    expected = Client(db).status()
    lines = out.splitlines()
    assert len(lines) == len(expected)
    for line, m in zip(lines, expected, strict=True):
        name, value, *note = line.split()
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(m.labels.items()))
        assert name == m.metric + (f"{{{labels}}}" if labels else "")
        if "age_seconds" not in m.metric:
            assert value == format_value(m.value)
        assert note == ([] if m.exact else ["~", "estimate"])
    # One column of values, right-aligned: every value ends in the same column.
    ends = set()
    for line in lines:
        match = re.match(r"\S+ +(\S+)", line)
        assert match is not None, line
        ends.add(match.end(1))
    assert len(ends) == 1, out
    assert re.search(r"^pgchallenge_ledger_oldest_day_timestamp_seconds +NaN$", out, re.MULTILINE)


def test_status_prometheus(
    capsys: pytest.CaptureFixture[str], db_url: str, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    config = tmp_path / "challenges.json"
    config.write_text(example_config_text())
    assert run(capsys, "load-config", str(config), "--database-url", db_url)[0] == 0

    status, out, err = run(capsys, "status", "--format", "prometheus", "--database-url", db_url)
    assert status == 0, err
    families = parse_exposition(out)
    expected = Client(db).status()
    assert list(families) == list(dict.fromkeys(m.metric for m in expected))
    for m in expected:
        family = families[m.metric]
        assert family.help == m.help
        [value] = [v for labels, v in family.samples if labels == dict(m.labels)]
        if m.value is None:
            assert value != value  # NaN
        elif "age_seconds" not in m.metric:
            assert value == m.value
    assert {tuple(sorted(labels.items())) for labels, _ in families["pgchallenge_outbox_grants"].samples} == {
        (("state", "pending"),),
        (("state", "leased"),),
        (("state", "failed"),),
    }
    [(labels, version)] = families["pgchallenge_config_version"].samples
    assert version == 1
    digest = db.execute("SELECT digest FROM challenge.config_loads").fetchone()
    assert digest is not None and labels == {"digest": digest[0]}
    assert re.search(r"^pgchallenge_config_version\{digest=\"[0-9a-f]{64}\"\} 1$", out, re.MULTILINE)
    assert "pgchallenge_ledger_oldest_day_timestamp_seconds NaN\n" in out


def test_status_rejects_an_unknown_format(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["status", "--format", "json", "--database-url", db_url])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# --- deployments with roles of their own ----------------------------------------------------------------


@pytest.fixture
def deployment(postgresql_proc: Any) -> Iterator[Cluster]:
    with prefixed_cluster(postgresql_proc, "rc") as cluster:
        yield cluster


@pytest.fixture
def migrated(capsys: pytest.CaptureFixture[str], deployment: Cluster) -> str:
    """A database migrated by ``pgchallenge migrate --role-prefix``."""
    url = deployment.new_database()
    status, out, err = run(capsys, "migrate", "--role-prefix", deployment.prefix, "--database-url", url)
    assert status == 0, err
    head = ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()
    assert out == f"database at revision {head}\n"
    return url


def test_migrate_role_prefix(deployment: Cluster, migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        rows = conn.execute(
            "SELECT kind, role_name, created_by_migration FROM challenge.deployment_roles"
        ).fetchall()
    assert sorted(rows) == [(kind, deployment.group(kind), True) for kind in ("admin", "app", "reader")]
    assert deployment.roles() == {deployment.group(kind) for kind in ("app", "reader", "admin")}


def test_migrate_sql_with_a_role_prefix_names_the_roles(
    capsys: pytest.CaptureFixture[str], deployment: Cluster
) -> None:
    url = deployment.new_database()
    status, out, _ = run(
        capsys, "migrate", "--sql", "--role-prefix", deployment.prefix, "--database-url", url
    )
    assert status == 0
    for kind in ("app", "reader", "admin"):
        assert f"set_config('pgchallenge.{kind}_role', '{deployment.group(kind)}', true);" in out
    assert deployment.roles() == set()  # printed, not run


def show_lines(out: str) -> dict[str, tuple[str, str]]:
    parsed = {}
    for line in out.splitlines():
        match = re.fullmatch(r"(\w+) +(\S+) +members: (.*)", line)
        assert match is not None, line
        parsed[match.group(1)] = (match.group(2), match.group(3))
    return parsed


def test_roles_show_grant_revoke(
    capsys: pytest.CaptureFixture[str], deployment: Cluster, migrated: str
) -> None:
    status, out, err = run(capsys, "roles", "show", "--database-url", migrated)
    assert status == 0, err
    assert show_lines(out) == {
        kind: (deployment.group(kind), "(none)") for kind in ("app", "reader", "admin")
    }
    assert list(show_lines(out)) == ["app", "reader", "admin"]

    login = deployment.create_login("game_service")
    status, out, err = run(
        capsys, "roles", "grant", "--role", login, "--as", "app", "--database-url", migrated
    )
    assert status == 0, err
    assert out == f"{login} is now a member of {deployment.group('app')} (app)\n"
    assert deployment.members(deployment.group("app")) == {login}
    other = deployment.create_login("dashboard")
    assert (
        run(capsys, "roles", "grant", "--role", other, "--as", "reader", "--database-url", migrated)[0] == 0
    )
    assert run(capsys, "roles", "grant", "--role", other, "--as", "app", "--database-url", migrated)[0] == 0

    status, out, _ = run(capsys, "roles", "show", "--database-url", migrated)
    assert show_lines(out) == {
        "app": (deployment.group("app"), ", ".join(sorted([login, other]))),
        "reader": (deployment.group("reader"), other),
        "admin": (deployment.group("admin"), "(none)"),
    }

    status, out, err = run(
        capsys, "roles", "revoke", "--role", login, "--as", "app", "--database-url", migrated
    )
    assert status == 0, err
    assert out == f"{login} is no longer a member of {deployment.group('app')} (app)\n"
    assert deployment.members(deployment.group("app")) == {other}


def test_roles_sql_prints_the_statement_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], deployment: Cluster, migrated: str
) -> None:
    login = deployment.create_login('we"ird')
    status, out, err = run(
        capsys, "roles", "grant", "--role", login, "--as", "admin", "--sql", "--database-url", migrated
    )
    assert status == 0, err
    quoted_login = login.replace('"', '""')
    assert out == f'GRANT "{deployment.group("admin")}" TO "{quoted_login}";\n'
    assert deployment.members(deployment.group("admin")) == set()

    status, out, _ = run(
        capsys, "roles", "revoke", "--role", login, "--as", "reader", "--sql", "--database-url", migrated
    )
    assert status == 0
    assert out == f'REVOKE "{deployment.group("reader")}" FROM "{quoted_login}";\n'

    # The printed statement runs as printed.
    grant = run(
        capsys, "roles", "grant", "--role", login, "--as", "admin", "--sql", "--database-url", migrated
    )[1]
    with psycopg.connect(migrated, autocommit=True) as conn:
        conn.execute(grant)
    assert deployment.members(deployment.group("admin")) == {login}


def test_roles_unknown_kind_is_rejected(capsys: pytest.CaptureFixture[str], db_url: str) -> None:
    for action in ("grant", "revoke"):
        with pytest.raises(SystemExit) as exited:
            cli.main(["roles", action, "--role", "someone", "--as", "superuser", "--database-url", db_url])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "invalid choice: 'superuser'" in err
        assert "'app', 'reader', 'admin'" in err
    with pytest.raises(SystemExit):
        cli.main(["roles", "grant", "--as", "app", "--database-url", db_url])  # --role is required
    with pytest.raises(SystemExit):
        cli.main(["roles", "drop", "--database-url", db_url])


def test_roles_on_an_unmigrated_database(capsys: pytest.CaptureFixture[str], deployment: Cluster) -> None:
    url = deployment.new_database()
    for argv in (
        ("roles", "show"),
        ("roles", "grant", "--role", "someone", "--as", "app"),
        ("roles", "grant", "--role", "someone", "--as", "app", "--sql"),
    ):
        status, out, err = run(capsys, *argv, "--database-url", url)
        assert status == 1, argv
        assert out == ""
        assert err == (
            "error: challenge.deployment_roles does not exist:"
            " migrate the database first (pgchallenge migrate)\n"
        )


def one_line_error(err: str) -> str:
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_a_role_without_the_right_gets_a_one_line_error(
    capsys: pytest.CaptureFixture[str], deployment: Cluster, migrated: str
) -> None:
    login = deployment.create_login("svc")
    assert run(capsys, "roles", "grant", "--role", login, "--as", "app", "--database-url", migrated)[0] == 0
    as_app = psycopg.conninfo.make_conninfo(migrated, user=login)

    status, out, err = run(capsys, "status", "--database-url", as_app)
    assert (status, out) == (1, "")
    assert "permission denied for function status" in one_line_error(err)
    assert "privilege table in docs/api.md" in err

    # Reading the roles needs the owner's rights too; granting needs ADMIN OPTION.
    status, out, err = run(capsys, "roles", "show", "--database-url", as_app)
    assert (status, out) == (1, "")
    assert "permission denied" in one_line_error(err)

    # A reader may run status.
    reader = deployment.create_login("dash")
    assert (
        run(capsys, "roles", "grant", "--role", reader, "--as", "reader", "--database-url", migrated)[0] == 0
    )
    status, out, err = run(
        capsys, "status", "--database-url", psycopg.conninfo.make_conninfo(migrated, user=reader)
    )
    assert status == 0, err
    assert 'pgchallenge_outbox_grants{state="pending"}' in out


def test_roles_grant_of_a_role_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], deployment: Cluster, migrated: str
) -> None:
    status, out, err = run(
        capsys,
        "roles",
        "grant",
        "--role",
        f"{deployment.prefix}_nobody",
        "--as",
        "app",
        "--database-url",
        migrated,
    )
    assert (status, out) == (1, "")
    assert "does not exist" in one_line_error(err)
