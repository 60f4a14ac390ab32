"""JobRunner in process: a small pipeline over the in-memory store and publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fakes import FakeClients

from jiwa.events import ProgressEvent, ProgressKind
from jiwa.failures import COMPLETED_SEQ, FAILED_SEQ, WaveFailedError
from jiwa.job.runner import JobRunner, Wave, WaveContext
from jiwa.store import Job, Status

JOB = "job_runner"
NAMES = ["profile", "website", "brand"]


class Pipeline:
    """Three waves that record each run; `fail_at` / `hang_at` steer a wave."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.seen: dict[str, dict[str, Any]] = {}
        self.fail_at: dict[str, Exception] = {}
        self.hang_at: str | None = None
        self.started = asyncio.Event()

    def waves(self) -> list[Wave]:
        return [Wave(n, name, self._wave(name), announce=name != "website")
                for n, name in enumerate(NAMES, 1)]

    def _wave(self, name: str) -> Callable[[WaveContext], Any]:
        async def run(ctx: WaveContext) -> dict[str, Any]:
            self.ran.append(name)
            self.seen[name] = dict(ctx.outputs)
            if name == "brand":
                await ctx.emit(ProgressKind.SUMMARY, 50, summary="Hangat dan lokal")
            if name in self.fail_at:
                raise self.fail_at[name]
            if name == self.hang_at:
                self.started.set()
                await asyncio.sleep(3600)
            out: dict[str, Any] = {"name": name}
            if name == NAMES[-1]:
                out["completion"] = {"images": "6", "calendar": "12 Jan · Kopi"}
            return out
        return run


@pytest.fixture
def clients() -> FakeClients:
    fakes = FakeClients()
    fakes.fake_store.put(Job(id=JOB, phone="6281234567890", status=Status.QUEUED))
    return fakes


def runner(clients: FakeClients, pipeline: Pipeline, **kwargs: Any) -> JobRunner:
    return JobRunner(clients.store, clients.publisher, pipeline.waves(), **kwargs)


def published(clients: FakeClients) -> list[ProgressEvent]:
    return [ProgressEvent.model_validate(m.body())
            for m in clients.pubsub.on("onboarding-progress")]


def test_a_run_announces_each_wave_checkpoints_it_and_completes(clients: FakeClients) -> None:
    pipeline = Pipeline()
    assert asyncio.run(runner(clients, pipeline).run(JOB, 0)) == 0
    assert pipeline.ran == NAMES
    assert pipeline.seen["brand"] == {"profile": {"name": "profile"},
                                      "website": {"name": "website"}}
    events = published(clients)
    assert [(e.seq, e.kind, e.wave_name) for e in events] == [
        (100, ProgressKind.WAVE, "profile"),  # "website" does not announce itself
        (300, ProgressKind.WAVE, "brand"), (350, ProgressKind.SUMMARY, "brand"),
        (COMPLETED_SEQ, ProgressKind.COMPLETED, "")]
    assert events[-1].payload == {"images": "6", "calendar": "12 Jan · Kopi"}
    assert all(e.event_id == ProgressEvent.make_id(JOB, 1, e.seq) for e in events)
    assert {m.ordering_key for m in clients.pubsub.messages} == {JOB}
    assert [e["seq"] for e in clients.store.events(JOB)] == [e.seq for e in events]
    assert sorted(clients.store.checkpoints(JOB)) == [1, 2, 3]
    job = clients.store.require(JOB)
    assert job.status == Status.COMPLETED and job.current_wave == 9 and job.attempt == 0


def test_a_retry_resumes_after_the_last_checkpoint_and_re_sends_nothing_new(
        clients: FakeClients) -> None:
    first = Pipeline()
    first.fail_at["brand"] = RuntimeError("Claude fell over")
    assert asyncio.run(runner(clients, first).run(JOB, 0)) == 1
    assert clients.store.require(JOB).status == Status.RUNNING  # not the last attempt
    assert sorted(clients.store.checkpoints(JOB)) == [1, 2]
    assert not any(e.kind == ProgressKind.FAILED for e in published(clients))
    before = published(clients)

    second = Pipeline()
    assert asyncio.run(runner(clients, second).run(JOB, 1)) == 0
    assert second.ran == ["brand"]  # profile and website come from their checkpoints
    assert second.seen["brand"] == {"profile": {"name": "profile"},
                                    "website": {"name": "website"}}
    after = published(clients)[len(before):]
    # The brand wave's steps again, with the same ids: the notifier's guard drops them.
    assert [e.event_id for e in after][:2] == [e.event_id for e in before if e.seq >= 300]
    assert [e.seq for e in after] == [300, 350, COMPLETED_SEQ]
    assert clients.store.require(JOB).status == Status.COMPLETED


def test_the_last_attempt_tells_the_user_why_before_it_exits(clients: FakeClients) -> None:
    pipeline = Pipeline()
    pipeline.fail_at["brand"] = WaveFailedError.of("claude_unavailable", "529 x4")
    assert asyncio.run(runner(clients, pipeline, max_attempts=2).run(JOB, 1)) == 1
    [failed] = [e for e in published(clients) if e.kind == ProgressKind.FAILED]
    assert failed.event_id == ProgressEvent.make_id(JOB, 1, FAILED_SEQ)
    assert (failed.wave, failed.wave_name) == (3, "brand")
    assert failed.payload["code"] == "claude_unavailable"
    job = clients.store.require(JOB)
    assert job.status == Status.FAILED and job.error["code"] == "claude_unavailable"  # type: ignore[index]
    assert "529 x4" in job.error["message"]  # type: ignore[index]  # for the operator


def test_an_unexpected_error_tells_the_user_nothing_internal(clients: FakeClients) -> None:
    pipeline = Pipeline()
    pipeline.fail_at["website"] = KeyError("secret-internal-detail")
    assert asyncio.run(runner(clients, pipeline, max_attempts=1).run(JOB, 0)) == 1
    [failed] = [e for e in published(clients) if e.kind == ProgressKind.FAILED]
    assert failed.payload["code"] == "internal"
    assert "secret-internal-detail" not in str(failed.payload)
    assert clients.store.require(JOB).status == Status.FAILED


def test_a_failure_inside_a_task_group_keeps_its_reason(clients: FakeClients) -> None:
    pipeline = Pipeline()
    pipeline.fail_at["brand"] = ExceptionGroup("images", [
        ValueError("x"), WaveFailedError.of("images_unavailable")])
    asyncio.run(runner(clients, pipeline, max_attempts=1).run(JOB, 0))
    [failed] = [e for e in published(clients) if e.kind == ProgressKind.FAILED]
    assert failed.payload["code"] == "images_unavailable"


def test_a_cancelled_run_keeps_its_checkpoints_and_a_retry_resumes(clients: FakeClients) -> None:
    """SIGTERM cancels the job's task (jiwa.job.__main__): nothing is marked failed, the
    finished waves stay checkpointed, the heartbeat stops."""
    pipeline = Pipeline()
    pipeline.hang_at = "brand"

    async def run_then_cancel() -> None:
        task = asyncio.create_task(runner(clients, pipeline, heartbeat_seconds=0.01)
                                   .run(JOB, 0))
        await pipeline.started.wait()
        await asyncio.sleep(0.05)  # a few heartbeats
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        beats = clients.fake_store.heartbeats
        await asyncio.sleep(0.05)
        assert clients.fake_store.heartbeats == beats > 0  # stopped with the run

    asyncio.run(run_then_cancel())
    job = clients.store.require(JOB)
    assert job.status == Status.RUNNING and job.current_wave == 3
    assert sorted(clients.store.checkpoints(JOB)) == [1, 2]
    assert not any(e.kind == ProgressKind.FAILED for e in published(clients))

    retry = Pipeline()
    assert asyncio.run(runner(clients, retry).run(JOB, 1)) == 0
    assert retry.ran == ["brand"]


def test_a_finished_job_is_not_run_again(clients: FakeClients) -> None:
    clients.fake_store.put(Job(id=JOB, phone="6281234567890", status=Status.COMPLETED))
    pipeline = Pipeline()
    assert asyncio.run(runner(clients, pipeline).run(JOB, 1)) == 0
    assert pipeline.ran == [] and clients.pubsub.messages == []


def test_a_failed_progress_publish_fails_the_attempt(clients: FakeClients) -> None:
    """A step is done only once its message is durable: a publish error is a wave error
    (Cloud Run retries), and the ordering key is resumed for the retry."""
    from google.api_core.exceptions import InvalidArgument

    clients.pubsub.failures.append(InvalidArgument("bad"))
    assert asyncio.run(runner(clients, Pipeline()).run(JOB, 0)) == 1
    assert clients.pubsub.resumed == [("projects/jiwa-unit/topics/onboarding-progress", JOB)]
    assert clients.store.checkpoints(JOB) == {}


@pytest.mark.parametrize("numbers", [[2, 1], [1, 1], [0, 1], [1, 10]])
def test_waves_must_be_numbered_one_to_nine_in_order(clients: FakeClients,
                                                     numbers: list[int]) -> None:
    async def noop(ctx: WaveContext) -> dict[str, Any]:
        return {}
    with pytest.raises(ValueError, match="numbered"):
        JobRunner(clients.store, clients.publisher, [Wave(n, f"w{n}", noop) for n in numbers])


def test_the_end_hook_runs_once_the_job_has_ended_for_good(clients: FakeClients) -> None:
    ended: list[str] = []
    failing = Pipeline()
    failing.fail_at["website"] = RuntimeError("boom")
    # a failed attempt with a retry left is no end: the slot stays held for the retry
    assert asyncio.run(runner(clients, failing, on_end=ended.append).run(JOB, 0)) == 1
    assert ended == []
    assert asyncio.run(runner(clients, Pipeline(), on_end=ended.append).run(JOB, 1)) == 0
    assert ended == [JOB]
    # a retry of a job that had ended (crash after the end): the hook runs again, harmless
    assert asyncio.run(runner(clients, Pipeline(), on_end=ended.append).run(JOB, 1)) == 0
    assert ended == [JOB, JOB]


def test_a_failing_end_hook_does_not_fail_the_job(clients: FakeClients) -> None:
    def broken(job_id: str) -> None:
        raise RuntimeError("firestore unavailable")

    assert asyncio.run(runner(clients, Pipeline(), on_end=broken).run(JOB, 0)) == 0
    assert clients.fake_store.get(JOB).status == Status.COMPLETED
