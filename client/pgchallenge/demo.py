"""``pgchallenge demo``: a game's event stream against a real database, with a summary at the end.

The demo builds its own database (``pgchallenge_demo``, dropped and recreated) on the server the URL
resolves to — the embedded server by default — migrates it, loads the bundled example config, initialises
the players, opts some players in to non-default goals and lets others drop a goal, then streams a seeded,
deterministic mix of game events through the batch functions, one transaction per batch. The mix is built
so that every guard shows up in the summary: replayed event ids (``duplicate_event``), repeated logins
(``already_counted_today``), late level updates (``stale_event``), opt-in goals (``not_assigned``) and
dropped goals (``inactive``).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any, TextIO

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgchallenge import BatchResult, Client, IncrementItem, SetItem, connect, migrate
from pgchallenge.connection import resolve_database_url
from pgchallenge.progress import ProgressBar

DEMO_DATABASE = "pgchallenge_demo"
SKIP_KINDS = (
    "inactive",
    "not_assigned",
    "claimed",
    "unknown_goal",
    "duplicate_event",
    "already_counted_today",
    "stale_event",
    "type_mismatch",
)
# Players are initialised in chunks, each its own transaction, so a huge --players never holds one
# transaction open for minutes.
INIT_CHUNK = 500
# Opt-in and opt-out goals of the bundled config (see examples/challenges.json).
OPT_IN_GOALS = ("kill-1000", "win-50")
OPT_OUT_GOALS = ("win-10", "login-3-days")


@dataclass(frozen=True)
class DemoOptions:
    players: int = 3000
    events: int = 300_000
    batch_size: int = 1000
    seed: int = 42
    database_url: str | None = None
    database_name: str = DEMO_DATABASE


@dataclass
class DemoSummary:
    database_url: str
    players: int
    events: int = 0
    game_events: int = 0
    batches: int = 0
    setup_seconds: float = 0.0
    stream_seconds: float = 0.0
    total_seconds: float = 0.0
    applied: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_KINDS, 0))
    completed: int = 0
    sample_user: str = ""
    sample_rows: list[Any] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.stream_seconds if self.stream_seconds > 0 else 0.0

    def add(self, result: BatchResult) -> None:
        self.applied += result.applied
        self.completed += len(result.completed)
        for kind in SKIP_KINDS:
            self.skipped[kind] += int(getattr(result.skipped, kind))


def example_config_text() -> str:
    """The bundled example ``challenges.json``."""
    return (resources.files("pgchallenge") / "examples" / "challenges.json").read_text(encoding="utf-8")


def user_id(index: int) -> str:
    return f"player-{index + 1:05d}"


def run_demo(options: DemoOptions, *, log: TextIO | None = None) -> DemoSummary:
    """Build the demo database, stream the events and return what happened."""
    log = log if log is not None else sys.stderr
    started = time.perf_counter()
    server_url = resolve_database_url(options.database_url)
    demo_url = recreate_database(server_url, options.database_name)
    _say(log, f"database {options.database_name}: recreated, migrating")
    migrate.upgrade(demo_url)
    config = json.loads(example_config_text())
    summary = DemoSummary(database_url=demo_url, players=options.players)
    rng = random.Random(options.seed)
    with connect(demo_url) as conn:
        client = Client(conn)
        loaded = client.load_config(config)
        conn.commit()
        _say(log, f"config: {loaded.challenges} challenges, {loaded.goals} goals loaded")
        initialize_players(client, conn, options.players, log)
        opted = choose_goals(client, conn, options.players, rng)
        _say(log, f"goal choices: {opted} opt-ins and opt-outs")
        summary.setup_seconds = time.perf_counter() - started
        stream_events(client, conn, options, config, rng, summary, log)
        summary.sample_user = user_id(sample_player(options.players))
        summary.sample_rows = list(client.get_user_progress(summary.sample_user))
        conn.commit()
    summary.total_seconds = time.perf_counter() - started
    return summary


def sample_player(players: int) -> int:
    """A moderately active player who opted in (see ``choose_goals``): some goals done, some not yet."""
    return min(100, players - 1) // 10 * 10


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``server_url``; return a conninfo for it."""
    maintenance = server_url
    # An empty conninfo means libpq's PG* variables, PGDATABASE included.
    if conninfo_to_dict(server_url).get("dbname", os.environ.get("PGDATABASE")) == name:
        # One cannot drop the database one is connected to: go through the maintenance database.
        maintenance = make_conninfo(server_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        # WITH (FORCE): a psql session left open on the previous demo must not block a rerun.
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(server_url, dbname=name)


def initialize_players(client: Client, conn: psycopg.Connection[Any], players: int, log: TextIO) -> None:
    with ProgressBar(players, label="players", stream=log) as bar:
        for start in range(0, players, INIT_CHUNK):
            for index in range(start, min(start + INIT_CHUNK, players)):
                client.initialize_player(user_id(index))
                bar.update()
            conn.commit()


def choose_goals(client: Client, conn: psycopg.Connection[Any], players: int, rng: random.Random) -> int:
    """Opt every 10th player in to the opt-in goals, and let every 20th (another one) drop a default goal.

    Chosen by index rather than at random: the first players are the most active ones (see
    ``EventGenerator._player``), so even a small demo has active players on both sides, and the sample
    player (the first one) shows opt-in goals.
    """
    changes = 0
    for index in range(players):
        if index % 10 == 0:
            for goal_id in OPT_IN_GOALS:
                client.set_goal_active(user_id(index), goal_id, True)
                changes += 1
        elif index % 20 == 5:
            client.set_goal_active(user_id(index), rng.choice(OPT_OUT_GOALS), False)
            changes += 1
    conn.commit()
    return changes


Item = IncrementItem | SetItem


def stream_events(
    client: Client,
    conn: psycopg.Connection[Any],
    options: DemoOptions,
    config: Mapping[str, Any],
    rng: random.Random,
    summary: DemoSummary,
    log: TextIO,
) -> None:
    # The events' times come from the server's clock, the one the functions compare them with.
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    generator = EventGenerator(config, options.players, options.events, rng, now=row[0])
    started = time.perf_counter()
    with ProgressBar(options.events, label="events", stream=log) as bar:
        for batch in _chunks(generator.items(), options.batch_size):
            increments = [item for item in batch if isinstance(item, IncrementItem)]
            values = [item for item in batch if isinstance(item, SetItem)]
            if increments:
                summary.add(client.increment_progress_batch(increments))
            if values:
                summary.add(client.set_progress_batch(values))
            conn.commit()
            summary.batches += 1
            summary.events += len(batch)
            bar.update(len(batch))
    summary.stream_seconds = time.perf_counter() - started
    summary.game_events = generator.game_events


def _chunks(items: Iterator[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class EventGenerator:
    """A seeded stream of progress events, routed from game events the way a game server would.

    A game event (a kill, a match, a login, a level-up) is routed to every goal whose ``statCode`` it
    carries, like the reference's event handler does, so one game event becomes several progress events.
    Time runs from midnight UTC two days ago to ``now`` (the server's) across the stream, so the
    once-per-day goals see three UTC days (see ``_clock``). Player activity is skewed (a few players play
    a lot) so that the harder goals complete too.
    """

    def __init__(
        self, config: Mapping[str, Any], players: int, total: int, rng: random.Random, *, now: datetime
    ) -> None:
        self.goals_by_stat = goals_by_stat_code(config)
        self.players = players
        self.total = total
        self.rng = rng
        self.now = now.astimezone(timezone.utc)
        today = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.start = today - timedelta(days=2)
        self.level = [1] * players
        self.level_at: list[datetime | None] = [None] * players
        # Recently sent items that carry an event id; some are sent again, as a broker redelivers.
        self.recent: deque[IncrementItem] = deque(maxlen=1000)
        self.produced = 0
        self.game_events = 0

    def items(self) -> Iterator[Item]:
        while True:
            self.game_events += 1
            for item in self._game_event():
                if self.produced >= self.total:
                    return
                self.produced += 1
                yield item

    def _clock(self) -> datetime:
        # Each third of the stream is one UTC day (today's only as far as now), and an event's place in its
        # day is a fraction of that day. Outcomes then do not depend on the time of day the demo runs at:
        # the same seed gives the same summary. The jitter makes neighbours arrive slightly out of order.
        position = 3 * self.produced / max(self.total, 1)
        day = min(int(position), 2)
        within = min(max(position - day - self.rng.random() * 0.001, 0.0), 0.999_999)
        day_start = self.start + timedelta(days=day)
        length = (self.now - day_start) if day == 2 else timedelta(days=1)
        return day_start + length * within

    def _player(self) -> int:
        # Squaring a uniform number skews activity towards the first players.
        return min(int(self.players * self.rng.random() ** 2), self.players - 1)

    def _game_event(self) -> list[Item]:
        roll = self.rng.random()
        player = self._player()
        at = self._clock()
        if roll < 0.45:
            return self._increments(player, "kills", self.rng.randint(1, 3), at)
        if roll < 0.70:
            return self._match(player, at)
        if roll < 0.80:
            return self._increments(player, "login", 1, at)
        if roll < 0.95:
            return self._level(player, at)
        return self._replay()

    def _increments(
        self, player: int, stat: str, delta: int, at: datetime, event_id: str | None = None
    ) -> list[Item]:
        return [
            IncrementItem(
                user_id(player),
                goal_id,
                delta=delta,
                # Event ids are global, so each routed copy of one game event gets its own.
                event_id=f"{event_id}:{goal_id}" if event_id else None,
                occurred_at=at,
            )
            for goal_id in self.goals_by_stat.get(stat, ())
        ]

    def _match(self, player: int, at: datetime) -> list[Item]:
        match_id = f"match-{self.game_events}"
        items = self._increments(player, "matches-played", 1, at, match_id)
        if self.rng.random() < 0.5:
            items += self._increments(player, "matches-won", 1, at, match_id)
        self.recent.extend(item for item in items if isinstance(item, IncrementItem))
        return items

    def _level(self, player: int, at: datetime) -> list[Item]:
        last_at = self.level_at[player]
        if last_at is not None and self.rng.random() < 0.1:
            # A delayed update from before the last applied one, with the level the player had then.
            value, at = max(self.level[player] - 1, 1), last_at - timedelta(minutes=5)
        else:
            self.level[player] += self.rng.randint(0, 3)
            value = self.level[player]
            if last_at is not None and at <= last_at:
                at = last_at + timedelta(milliseconds=1)
            self.level_at[player] = at
        return [
            SetItem(user_id(player), goal_id, value, occurred_at=at)
            for goal_id in self.goals_by_stat["level"]
        ]

    def _replay(self) -> list[Item]:
        if not self.recent:
            return []
        return [self.rng.choice(self.recent)]


def goals_by_stat_code(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """``statCode -> [goalId, ...]`` over all goals of the config, in file order."""
    routes: dict[str, list[str]] = {}
    for challenge in config["challenges"]:
        for goal in challenge["goals"]:
            routes.setdefault(goal["requirement"]["statCode"], []).append(goal["goalId"])
    return routes


def format_summary(summary: DemoSummary) -> str:
    lines = [
        "",
        "pgchallenge demo summary",
        "------------------------",
        _row("players", f"{summary.players:,}"),
        _row("events sent", f"{summary.events:,} (from {summary.game_events:,} game events)"),
        _row("batches", f"{summary.batches:,} (one transaction each)"),
        _row("setup", f"{summary.setup_seconds:.1f} s (database, migrations, config, players)"),
        _row("elapsed", f"{summary.stream_seconds:.1f} s (streaming the events)"),
        _row("events/s", f"{summary.events_per_second:,.0f}"),
        _row("total", f"{summary.total_seconds:.1f} s"),
        _row("applied", f"{summary.applied:,}"),
    ]
    lines += [_row(f"skipped {kind}", f"{count:,}") for kind, count in summary.skipped.items()]
    lines.append(_row("goals completed", f"{summary.completed:,}"))
    lines += ["", f"progress of {summary.sample_user}:", *format_rows(summary.sample_rows)]
    lines += [
        "",
        "explore it:",
        f'  psql "{summary.database_url}"',
        f'  pgchallenge explain {summary.sample_user} kill-100 --database-url "{summary.database_url}"'
        "   # one goal's history, from the audit ledger",
    ]
    return "\n".join(lines)


def _row(label: str, value: str) -> str:
    return f"  {label:<32} {value}"


def format_rows(rows: Sequence[Any]) -> list[str]:
    header = ("goal", "challenge", "progress", "status", "active")
    table = [header] + [
        (
            row.goal_id,
            row.challenge_id,
            f"{row.progress}/{row.target}",
            row.status,
            "yes" if row.is_active else "no",
        )
        for row in rows
    ]
    widths = [max(len(str(line[column])) for line in table) for column in range(len(header))]
    return [("  " + "  ".join(_pad(line, widths))).rstrip() for line in table]


def _pad(cells: Sequence[object], widths: Sequence[int]) -> Iterator[str]:
    return (str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True))


def _say(log: TextIO, message: str) -> None:
    log.write(f"demo: {message}\n")
    log.flush()
