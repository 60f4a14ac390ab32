"""The providers as the load scenario meets them (bench/load.py): a simulated clock, the
real quota buckets (jiwa.dev.quotas.Quotas) on it, and fal's concurrency as fal_standin
enforces it. Every use, refusal and backoff is recorded for the report."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from jiwa.dev.anthropic_limits import retry_after
from jiwa.dev.quotas import Quotas, Verdict


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop on simulated time: when nothing is ready to run, the clock jumps to
    the next timer instead of waiting for it; while a thread works (a Firestore call of
    the admission), it stands still and the loop waits for that thread for real.

    Why not a clock running N times faster than this machine's: at 90x, here (2 cores
    shared, load average 9), the event loop's lag of 10-50 ms became 1-4.5 simulated
    seconds at every await, and the emulator's answers under the arrivals' burst (admit
    5-17 s p50) became minutes: the jobs ran at 2.5 times their unhindered time because of
    the machine, not the quotas. Production's Firestore answers in milliseconds, which is
    what a clock standing still during the calls stands for."""

    def __init__(self) -> None:
        super().__init__()
        self.now, self.in_threads = 0.0, 0
        inner: Any = getattr(self, "_selector")  # noqa: B009 (private to asyncio)
        loop = self

        class Jumping:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            def select(self, timeout: float | None = None) -> Any:
                if timeout == 0:
                    return inner.select(0)
                if loop.in_threads:  # a Firestore call: wait for it, the clock still
                    return inner.select(1.0)
                if timeout is not None:
                    loop.now += timeout  # nothing to do until the next timer: go there
                return inner.select(0 if timeout is not None else 1.0)

        setattr(self, "_selector", Jumping())  # noqa: B010 (private to asyncio)

    def time(self) -> float:
        return self.now


class Clock:
    """Simulated seconds, on the running VirtualLoop."""

    def __init__(self, loop: VirtualLoop) -> None:
        self.loop = loop

    def now(self) -> float:
        return self.loop.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def in_thread(self, pool: Executor, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in `pool` while the clock stands still."""
        self.loop.in_threads += 1
        try:
            return await self.loop.run_in_executor(pool, fn, *args)
        finally:
            self.loop.in_threads -= 1  # here, on the loop: its result is in hand

    def datetime_class(self) -> type[datetime]:
        """A `datetime` whose now() is the simulated time: jiwa.admission reads the clock
        through its module's `datetime` (enqueuedAt, the start tokens' minute), so the
        scenario swaps it in and `starts_per_minute` counts simulated minutes."""
        clock, base = self, datetime(2026, 1, 1, tzinfo=UTC)

        class Scaled(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> Any:
                return base + timedelta(seconds=clock.now())

        return Scaled


@dataclass
class Bucket:
    """One quota: a real token bucket of `quotas` (on the simulated clock), `limit` per
    `per_seconds`."""

    quotas: Quotas
    clock: Clock
    name: str
    limit: int
    per_seconds: float
    used: list[tuple[float, float]] = field(default_factory=list)  # (sim time, cost)
    refusals: int = 0
    backoffs: int = 0
    backoff_seconds: float = 0.0

    def take(self, cost: float = 1.0, key: str = "") -> Verdict:
        rule = {"limit": self.limit, "per_seconds": self.per_seconds}
        verdict = self.quotas.take(self.name, rule, key, cost)
        if verdict.allowed:
            self.used.append((self.clock.now(), cost))
        else:
            self.refusals += 1
        return verdict

    async def back_off(self, seconds: float) -> None:
        self.backoffs += 1
        self.backoff_seconds += seconds
        await self.clock.sleep(seconds)


class Claude:
    """Anthropic's requests and input-token buckets, checked in the stand-in's order
    (jiwa.dev.anthropic_limits: requests first, then tokens). A refusal is answered with
    the stand-in's `retry-after`; our side waits what it says, as the SDK and
    jiwa.ai.Claude do, until `give_up` seconds from the first try."""

    def __init__(self, requests: Bucket, tokens: Bucket, give_up: float) -> None:
        self.requests, self.tokens, self.give_up = requests, tokens, give_up
        self.gave_up = 0

    async def call(self, tokens: int, seconds: float) -> bool:
        clock = self.requests.clock
        first = clock.now()
        while True:
            verdict, bucket = self.requests.take(), self.requests
            if verdict.allowed:
                verdict, bucket = self.tokens.take(tokens), self.tokens
            if verdict.allowed:
                await clock.sleep(seconds)
                return True
            wait = retry_after(verdict)
            if clock.now() - first + wait > self.give_up:
                self.gave_up += 1  # jiwa.ai: CLAUDE_DOWN, the wave fails
                return False
            await bucket.back_off(wait)


class Fal:
    """fal's concurrency limit as fal_standin's dispatch() enforces it: at most `limit`
    requests in progress, the rest wait IN_QUEUE oldest first, never refused. Our Flux
    client gives up a request still in line after `queue_timeout` (and cancels it)."""

    def __init__(self, clock: Clock, limit: int, queue_timeout: float) -> None:
        self.clock, self.limit, self.queue_timeout = clock, limit, queue_timeout
        self.in_progress = 0
        self._line: deque[asyncio.Future[None]] = deque()
        self.levels: list[tuple[float, float]] = [(0.0, 0.0)]  # (sim time, in progress)
        self.queued = self.timed_out = self.peak = 0
        self.waits: list[float] = []

    def _level(self) -> None:
        self.peak = max(self.peak, self.in_progress)
        self.levels.append((self.clock.now(), float(self.in_progress)))

    async def generate(self, seconds: float) -> bool:
        asked = self.clock.now()
        if self.in_progress < self.limit and not self._line:
            self.in_progress += 1
            self._level()
        else:
            self.queued += 1
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._line.append(turn)
            await asyncio.wait({turn}, timeout=self.queue_timeout)
            if not turn.done():
                self._line.remove(turn)  # cancelled while IN_QUEUE: it frees nothing
                turn.cancel()
                self.timed_out += 1
                return False
        self.waits.append(self.clock.now() - asked)
        try:
            await self.clock.sleep(seconds)
        finally:
            self._free()
        return True

    def _free(self) -> None:
        if self._line:
            self._line.popleft().set_result(None)  # the slot passes to the oldest waiter
        else:
            self.in_progress -= 1
            self._level()
