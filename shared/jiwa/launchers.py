"""Starting the job: a Cloud Run Jobs execution in production, a local process otherwise."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from typing import IO, Any, Protocol

log = logging.getLogger("jiwa.launch")


class LaunchQuotaError(RuntimeError):
    """The platform refused the start for now (a quota on starts): try again later."""


STANDBY_VARIABLE = "JIWA_STANDBY"  # "1": the process stands by (jiwa.job.standby)


def job_env(job_id: str, standby: bool) -> dict[str, str]:
    """What a start sets in the job's environment, on Cloud Run as an override."""
    return {"JOB_ID": job_id, **({STANDBY_VARIABLE: "1"} if standby else {})}


class Launcher(Protocol):
    def launch(self, job_id: str, *, standby: bool = False) -> str:
        """Start the job for `job_id`; return the execution's name. `standby`: the
        process waits for the run to be handed to it (jiwa.standby)."""
        ...

    def is_running(self, execution: str) -> bool:
        """Whether that execution may still be working (unknown counts as running)."""
        ...


class CloudRunLauncher:
    """RunJob with a JOB_ID override. Cloud Run owns the retry of a crashed task
    (`max_retries` on the job); we never wait on the long-running operation."""

    def __init__(self, client: Any, job_name: str, executions: Any = None) -> None:
        self._client = client
        self._job = job_name
        self._executions = executions

    @classmethod
    def build(cls, project: str, region: str, job: str, endpoint: str | None) -> CloudRunLauncher:
        from google.cloud import run_v2

        if endpoint:  # a local stand-in of the Admin API speaks plaintext gRPC
            import grpc
            from google.cloud.run_v2.services.executions.transports import (
                ExecutionsGrpcTransport,
            )
            from google.cloud.run_v2.services.jobs.transports import JobsGrpcTransport

            channel = grpc.insecure_channel(endpoint)
            client = run_v2.JobsClient(transport=JobsGrpcTransport(channel=channel))
            executions = run_v2.ExecutionsClient(
                transport=ExecutionsGrpcTransport(channel=channel))
        else:
            client, executions = run_v2.JobsClient(), run_v2.ExecutionsClient()
        return cls(client, f"projects/{project}/locations/{region}/jobs/{job}", executions)

    def launch(self, job_id: str, *, standby: bool = False) -> str:
        from google.cloud import run_v2

        override = run_v2.RunJobRequest.Overrides.ContainerOverride(
            env=[run_v2.EnvVar(name=k, value=v) for k, v in job_env(job_id, standby).items()])
        request = run_v2.RunJobRequest(
            name=self._job,
            overrides=run_v2.RunJobRequest.Overrides(container_overrides=[override],
                                                     task_count=1))
        from google.api_core.exceptions import ResourceExhausted

        try:
            operation = self._client.run_job(request=request)
        except ResourceExhausted as exc:
            # "Job run requests per minute per region": the start is refused, not failed;
            # the generated client does not retry RunJob (no default retry in its
            # transport), so the caller backs off (jiwa.handlers.dispatcher)
            raise LaunchQuotaError(str(exc.message)) from exc
        return str(operation.metadata.name)

    def is_running(self, execution: str) -> bool:
        if not execution.startswith("projects/") or self._executions is None:
            return False
        try:
            found = self._executions.get_execution(name=execution)
        except Exception:
            log.warning("sweeper: could not read execution %s", execution, exc_info=True)
            return True  # unknown: leave the job alone this round
        return not found.completion_time and not found.failed_count \
            and not found.cancelled_count


class LocalProcessLauncher:
    """Runs `python -m jiwa.job.supervisor`, which retries a crashed job like Cloud Run;
    `warm`: forks it from a process that has imported the job's code (jiwa.job.warm).

    The processes stay in the caller's process group, so stopping a local function stops
    the jobs it started."""

    def __init__(self, env: dict[str, str] | None = None, warm: bool = False) -> None:
        self._env = env
        self._warm = WarmStarter() if warm else None

    def launch(self, job_id: str, *, standby: bool = False) -> str:
        base = {k: v for k, v in (self._env if self._env is not None else os.environ).items()
                if k != STANDBY_VARIABLE}
        env = {**base, **job_env(job_id, standby)}
        if self._warm is not None:
            return f"local/{job_id}/{self._warm.start(env)}"
        process = subprocess.Popen([sys.executable, "-m", "jiwa.job.supervisor"], env=env,
                                   stdin=subprocess.DEVNULL)
        threading.Thread(target=process.wait, daemon=True).start()  # reap when it ends
        return f"local/{job_id}/{process.pid}"

    def is_running(self, execution: str) -> bool:
        pid = execution.rsplit("/", 1)[-1]
        if not execution.startswith("local/") or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return _not_zombie(int(pid))


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


class WarmStarter:
    """The launcher's side of jiwa.job.warm: one warm process per launcher, started on
    the first launch and again if it has died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._replies: IO[str] | None = None

    def start(self, env: dict[str, str]) -> int:
        """Fork a supervisor with `env`; its pid."""
        with self._lock:
            for _ in range(2):
                if self._process is None or self._process.poll() is not None:
                    self._spawn({k: v for k, v in env.items() if k != "JOB_ID"})
                assert self._process is not None and self._process.stdin is not None
                assert self._replies is not None
                try:
                    self._process.stdin.write(json.dumps(env) + "\n")
                    self._process.stdin.flush()
                    reply = self._replies.readline()
                except OSError:  # it died under us (a broken pipe): start another
                    reply = ""
                if reply.strip().isdigit():
                    return int(reply)
                log.warning("launch: the warm job starter ended; starting it again")
                self._process = None
            raise RuntimeError("the warm job starter (jiwa.job.warm) did not start the job")

    @property
    def pid(self) -> int | None:
        """The warm process's pid, while it runs."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def stop(self) -> None:
        """End the warm process (the jobs it started carry on)."""
        with self._lock:
            if self._process is not None and self._process.stdin is not None:
                self._process.stdin.close()  # its end of input: it exits
                self._process.wait(timeout=10)
            if self._replies is not None:
                self._replies.close()
            self._process, self._replies = None, None

    def _spawn(self, env: dict[str, str]) -> None:
        if self._replies is not None:
            self._replies.close()
        read, write = os.pipe()
        process = subprocess.Popen([sys.executable, "-m", "jiwa.job.warm", str(write)],
                                   env=env, stdin=subprocess.PIPE, pass_fds=(write,),
                                   text=True)
        os.close(write)
        threading.Thread(target=process.wait, daemon=True).start()  # reap when it ends
        self._process, self._replies = process, os.fdopen(read)

