"""``AsyncEventWriter``: the asyncio shell around the event writers' policy core.

The same writer as ``pgchallenge.writer.EventWriter`` (whose module documents both, and re-exports this
one), with a task instead of a thread per lane: batching, partitioning, retries, bisection, counters and
source positions are ``pgchallenge._writer_policy``'s, as for the threaded writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import psycopg

from pgchallenge._writer_policy import Backoff, Lane, Pending, Reply, Sent, WriterSettings, deliver
from pgchallenge.aclient import AsyncClient
from pgchallenge.connection import async_connect
from pgchallenge.errors import InvalidEvent, WriterClosed
from pgchallenge.models import Event, EventOutcome

__all__ = ["AsyncConnectionFactory", "AsyncEventWriter"]

log = logging.getLogger("pgchallenge.writer")

AsyncConnectionFactory = Callable[[], Any]  # returns an awaitable of psycopg.AsyncConnection


class AsyncEventWriter(WriterSettings):
    """The asyncio twin of ``EventWriter``: one flusher task and one connection per partition.

    ``await writer.submit(event)`` waits for room in the buffer (``BufferFull`` after ``submit_timeout``)
    and returns an ``asyncio.Future`` that resolves with the event's ``EventOutcome`` once its batch
    committed. Create it inside a running event loop; ``await writer.flush()`` sends everything buffered
    and waits for it, ``await writer.close()`` (or ``aclose()``, or ``async with``) flushes everything and
    stops. With a ``source`` and ``epoch=None`` the partition is acquired by ``await writer.start()``,
    which ``async with`` and the first ``submit`` call; ``resume_position`` is known from then on.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        connection_factory: AsyncConnectionFactory | None = None,
        connections: int | None = None,
        batch_size: int = 1000,
        flush_interval: float = 0.1,
        max_pending: int = 100_000,
        submit_timeout: float | None = 5.0,
        max_attempts: int = 240,
        backoff_base: float = 0.05,
        backoff_cap: float = 0.5,
        source: str | None = None,
        source_partition: str = "",
        epoch: int | None = None,
    ) -> None:
        super().__init__(
            connections=connections,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_pending=max_pending,
            submit_timeout=submit_timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            source=source,
            source_partition=source_partition,
            epoch=epoch,
        )
        self._started = source is None or epoch is not None
        self._start_lock = asyncio.Lock()
        self._database_url = database_url
        self._factory = connection_factory
        self._space = asyncio.Semaphore(max_pending)
        self._senders = [_AsyncLaneSender(self, index) for index in range(self.connections)]

    async def start(self) -> None:
        """Acquire the source partition (a writer with a source and no ``epoch``); otherwise, or once
        done, nothing. Raises what ``acquire_source`` raises (an unreachable database, say)."""
        if self._started:
            return
        async with self._start_lock:
            if self._started:
                return
            assert self.source is not None
            sender = self._senders[0]
            try:
                client = AsyncClient(await sender.connection())
                acquired = await client.acquire_source(self.source, self.source_partition)
            except BaseException:
                await sender.discard_connection()
                raise
            self._epoch = acquired.epoch
            self._resume_position = acquired.position
            self._started = True

    async def submit(
        self, event: Event | Mapping[str, Any], timeout: float | None = None
    ) -> asyncio.Future[EventOutcome]:
        """Buffer one event once there is room; the future resolves with its outcome after it committed."""
        document, position = self._admit(event)
        await self.start()
        sender = self._senders[self._lane_of(document)]
        sender.lane.positions.check(position)
        wait = self.submit_timeout if timeout is None else timeout
        try:
            await asyncio.wait_for(self._space.acquire(), wait)
        except asyncio.TimeoutError:
            raise self._buffer_full(wait) from None
        if self._closed:
            self._space.release()
            raise WriterClosed("the event writer is closed")
        future: asyncio.Future[EventOutcome] = asyncio.get_running_loop().create_future()
        try:
            # Checks the position again: another submit may have gone past it while this one waited.
            sender.put(Pending(document, future), position)
        except InvalidEvent:
            self._space.release()
            raise
        future.add_done_callback(lambda _: self._space.release())
        self._counters.add(submitted=1)
        return future

    @property
    def resume_position(self) -> int | None:
        """As ``EventWriter.resume_position``; RuntimeError before ``start()`` acquired the partition."""
        if not self._started:
            raise RuntimeError("the partition is acquired by `await writer.start()` (or `async with`)")
        return self._resume_position

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered now and wait until it is resolved; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for sender in self._senders:
            if not await sender.drain(deadline):
                return False
        return True

    async def close(self, timeout: float | None = None) -> None:
        """Stop accepting events, flush everything buffered, wait for it, and close the connections.

        With a ``timeout``, return when it runs out even if some batches are still being sent: the
        flusher tasks finish them (and close their connections) in the background, as ``EventWriter``'s
        threads do. Once the flusher tasks have all finished, raise what one of them raised, if any (as
        ``aclose()`` always did)."""
        self._closed = True
        for sender in self._senders:
            sender.stop()
        tasks = [sender.task for sender in self._senders]
        if timeout is not None:
            _, pending = await asyncio.wait(tasks, timeout=max(0.0, timeout))
            if pending:
                return
        await asyncio.gather(*tasks)

    async def aclose(self) -> None:
        """Stop accepting events, flush everything buffered, wait for it, close the connections."""
        await self.close()

    async def __aenter__(self) -> AsyncEventWriter:
        try:
            await self.start()
        except BaseException:
            await self.aclose()  # the flusher tasks are already running
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _AsyncLaneSender:
    """One lane of an ``AsyncEventWriter``: its flusher task and connection around its ``Lane``.

    ``wakeup`` wakes the flusher (an event queued, a flush asked for, close); ``settled`` is notified
    each time a batch is resolved, for ``flush``."""

    def __init__(self, writer: AsyncEventWriter, index: int) -> None:
        self.writer = writer
        self.index = index
        self.lane: Lane[Pending[asyncio.Future[EventOutcome]]] = Lane(writer)
        self.wakeup = asyncio.Event()
        self.settled = asyncio.Condition()
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.task = asyncio.create_task(self.run())

    def put(self, pending: Pending[asyncio.Future[EventOutcome]], position: int | None) -> None:
        """Queue the event; InvalidEvent when its position is not past the last."""
        if self.lane.put(pending, position, time.monotonic()):
            self.wakeup.set()

    def stop(self) -> None:
        self.lane.stop()
        self.wakeup.set()

    async def drain(self, deadline: float | None) -> bool:
        self.lane.request_flush()
        self.wakeup.set()
        async with self.settled:
            while not self.lane.idle:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(self.settled.wait(), remaining)
                except asyncio.TimeoutError:
                    return False
            return True

    async def next_batch(self) -> list[Pending[asyncio.Future[EventOutcome]]] | None:
        """Wait for a full batch, the flush interval, a flush request or close; None when done."""
        while True:
            wait = self.lane.due_in(time.monotonic())
            if wait is None:
                if self.lane.stopping:
                    return None
                self.wakeup.clear()
                await self.wakeup.wait()
            elif wait > 0:
                self.wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), wait)
            else:
                return self.lane.take(time.monotonic())

    async def run(self) -> None:
        try:
            while True:
                batch = await self.next_batch()
                if batch is None:
                    return
                try:
                    await self.deliver(batch)
                finally:
                    self.lane.sent()
                    async with self.settled:
                        self.settled.notify_all()
        finally:
            if self.conn is not None:
                await self.conn.close()

    async def deliver(self, batch: list[Pending[asyncio.Future[EventOutcome]]]) -> None:
        """Carry out the policy's plan for one batch: its calls, and the backoff between retries."""
        plan = deliver(batch, self.writer, self.writer._counters)
        reply: Reply = None
        while True:
            try:
                step = plan.send(reply)
            except StopIteration:
                return
            if isinstance(step, Backoff):
                log.warning("partition %s: %s; retrying (attempt %s)", self.index, step.error, step.attempt)
                await self.discard_connection()
                await asyncio.sleep(step.seconds)
                reply = None
            else:
                reply = await self.send(step.events)

    async def send(self, events: list[dict[str, Any]]) -> Sent | Exception:
        """One ``record_events`` call: its result and duration, or what it raised."""
        writer = self.writer
        try:
            client = AsyncClient(await self.connection())
            started = time.perf_counter()
            result = await client.record_events(
                events,
                detail=True,
                source=writer.source,
                partition=writer.source_partition,
                epoch=writer._epoch or 0,
            )
            return Sent(result, time.perf_counter() - started)
        except Exception as error:
            return error

    async def connection(self) -> psycopg.AsyncConnection[Any]:
        """The lane's connection, opened (in autocommit mode) if there is none or it was lost."""
        conn = self.conn
        if conn is None or conn.closed:
            if self.writer._factory is not None:
                conn = await self.writer._factory()
            else:
                conn = await async_connect(self.writer._database_url, autocommit=True)
            assert conn is not None
            await conn.set_autocommit(True)
            self.conn = conn
        return conn

    async def discard_connection(self) -> None:
        conn = self.conn
        self.conn = None
        if conn is not None:
            try:
                await conn.close()
            except Exception:  # pragma: no cover - closing a broken connection
                log.debug("closing a broken connection failed", exc_info=True)
