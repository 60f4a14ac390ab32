"""The onboardings of the load scenario (bench/load.py): admitted by the real
jiwa.admission.Admission, started through the Cloud Run quota, run as a model of the
job's provider work, their messages sent through WhatsApp's quota, released at their end.

Modelled (the numbers are in bench/load.py's module doc and in the results):
- the dispatcher: a decision "admitted" (the job's own, or a pump's `others_admitted`, as
  publish_admitted would publish) dispatches the job; a set stands for
  JobStore.claim_for_dispatch, which starts each job once however often it is admitted;
- RunJob refused by its quota: the dispatcher answers 500 and Pub/Sub redelivers after
  its backoff (infra/pubsub.tf), the subscription dead-lettering after
  BACKSTOP_DELIVERY_ATTEMPTS deliveries in production (the job would then be lost);
- the job: waves 1-2 locally, brand, products and calendar (one Claude call each), then
  the images, JIWA_IMAGE_CONCURRENCY at a time, each one fal generation and one score
  (no regeneration), fal tried JIWA_FAL_ATTEMPTS times with the images wave's backoff;
- the notifier: one job's messages in order (the ordered subscription), a send refused
  by 130429 redelivered after Pub/Sub's backoff, dead-lettered after the backstop's count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.load_model import redelivery_delay
from bench.load_providers import Bucket, Claude, Clock, Fal


@dataclass(frozen=True)
class Work:
    """One onboarding's provider work, in simulated seconds and tokens."""

    start_s: float  # dispatch -> the job's first event
    local_s: float  # waves 1-2 (Instagram, the website)
    claude_s: float
    fal_s: float
    score_s: float
    sonnet_tokens: int  # each of brand, products, calendar
    score_tokens: int  # each score: the image and its text
    images: int
    image_concurrency: int
    fal_attempts: int
    messages: int  # what the notifier sends for one job

    def claude(self) -> dict[str, tuple[int, int]]:
        """Calls and input tokens by model (bench/load_model.Demand)."""
        return {"sonnet": (3, 3 * self.sonnet_tokens),
                "haiku": (self.images, self.images * self.score_tokens)}

    def unhindered_s(self) -> float:
        """One job alone, no quota in its way."""
        rounds = -(-self.images // self.image_concurrency)
        return (self.start_s + self.local_s + 3 * self.claude_s
                + rounds * (self.fal_s + self.score_s))


@dataclass
class Job:
    id: str
    arrived: float
    admitted: float | None = None
    started: float | None = None
    ended: float | None = None
    outcome: str = ""  # completed | failed: <why> | lost: <why>
    starts: int = 0  # runs of the job's work: more than one is a duplicate
    admissions: int = 0  # dispatches of it (the claim absorbs all but one)


@dataclass
class Providers:
    clock: Clock
    claude: dict[str, Claude]  # "sonnet", "haiku": each model's own limits
    fal: Fal
    run_job: Bucket
    whatsapp: Bucket
    backoff: tuple[float, float]  # Pub/Sub's minimum and maximum
    deliveries: int  # the subscription's dead-letter count in production
    region: str = "asia-southeast2"
    phone_number_id: str = "bench"
    dead_lettered_messages: int = 0
    dead_lettered_starts: int = 0


class Notifier:
    """One job's messages, sent in order through WhatsApp's throughput quota."""

    def __init__(self, p: Providers) -> None:
        self._p = p
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self.sent = 0
        self.task = asyncio.create_task(self._run())

    def send(self, count: int = 1) -> None:
        for _ in range(count):
            self._queue.put_nowait(1)

    async def close(self) -> None:
        await self._queue.join()
        self.task.cancel()

    async def _run(self) -> None:
        while True:
            await self._queue.get()
            for delivery in range(1, self._p.deliveries + 1):
                if self._p.whatsapp.take(key=self._p.phone_number_id).allowed:
                    self.sent += 1
                    break
                if delivery == self._p.deliveries:
                    self._p.dead_lettered_messages += 1  # production's backstop: lost
                    break
                await self._p.whatsapp.back_off(redelivery_delay(delivery, *self._p.backoff))
            self._queue.task_done()


async def start(p: Providers) -> bool:
    """RunJob through its quota, redelivered after each refusal as Pub/Sub would."""
    for delivery in range(1, p.deliveries + 1):
        if p.run_job.take(key=p.region).allowed:
            return True
        if delivery == p.deliveries:
            break
        await p.run_job.back_off(redelivery_delay(delivery, *p.backoff))
    p.dead_lettered_starts += 1
    return False


async def run_job(p: Providers, w: Work, notify: Notifier) -> str:
    """The job's provider work; its outcome."""
    c = p.clock
    await c.sleep(w.start_s)
    notify.send(2)  # waves 1 and 2
    await c.sleep(w.local_s)
    for _ in ("brand", "products", "calendar"):
        notify.send()  # the wave's message
        if not await p.claude["sonnet"].call(w.sonnet_tokens, w.claude_s):
            return "failed: Claude rate limit"
        notify.send()  # its summary
    notify.send()  # the images wave
    slots = asyncio.Semaphore(w.image_concurrency)  # the job's own JIWA_IMAGE_CONCURRENCY

    async def image() -> str:
        async with slots:
            notify.send()  # image_progress
            for attempt in range(w.fal_attempts):
                if await p.fal.generate(w.fal_s):
                    break
                if attempt + 1 < w.fal_attempts:
                    await c.sleep(0.5 * 2**attempt)  # jiwa.waves.quality's backoff
            else:
                return "failed: fal queue timeout"
            if not await p.claude["haiku"].call(w.score_tokens, w.score_s):
                return "failed: Claude rate limit"
            notify.send()  # image_ready
            return ""

    failures = [r for r in await asyncio.gather(*(image() for _ in range(w.images))) if r]
    if failures:
        return failures[0]
    # the last waves' messages (what the 9 waves, 3 summaries, the images and the final
    # message leave of `messages`), then the final one
    notify.send(max(0, w.messages - 9 - 2 * w.images - 1))
    notify.send()  # completed
    return "completed"


@dataclass
class Dispatch:
    """Admission's decisions -> exactly one run per job; a job's end frees its slot."""

    p: Providers
    work: Work
    release: Callable[[str], Awaitable[list[str]]]
    jobs: dict[str, Job]
    running: int = 0
    peak_running: int = 0
    levels: list[tuple[float, float]] = field(default_factory=list)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def notifier(self, job_id: str) -> Notifier:
        """The job's messages, in order, from "you are in line" to the last."""
        if job_id not in self.notifiers:
            self.notifiers[job_id] = Notifier(self.p)
        return self.notifiers[job_id]

    def admitted(self, job_id: str) -> None:
        job = self.jobs[job_id]
        job.admissions += 1
        if job.admitted is not None:
            return  # the dispatch claim is taken: "already dispatched"
        job.admitted = self.p.clock.now()
        self._level(+1)
        task = asyncio.create_task(self._run(job))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _level(self, change: int) -> None:
        self.running += change
        self.peak_running = max(self.peak_running, self.running)
        self.levels.append((self.p.clock.now(), float(self.running)))

    async def _run(self, job: Job) -> None:
        notify = self.notifier(job.id)
        if not await start(self.p):
            job.outcome = "lost: start dead-lettered"
            self._level(-1)  # the sweeper would fail it and free the slot
        else:
            job.started, job.starts = self.p.clock.now(), job.starts + 1
            job.outcome = await run_job(self.p, self.work, notify)
            job.ended = self.p.clock.now()
            self._level(-1)
        for other in await self.release(job.id):  # JobRunner's on_end
            self.admitted(other)
