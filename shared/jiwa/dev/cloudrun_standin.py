"""Local gRPC stand-in for the Cloud Run Admin API v2 (a development tool).

Serves `google.cloud.run.v2.Jobs/RunJob`, `google.cloud.run.v2.Executions/GetExecution`
and `google.longrunning.Operations/GetOperation`, records every RunJobRequest, and
answers with an Execution named like Cloud Run's. Executions' outcomes can be set by
tests (`set_execution`). `Jobs/GetJob` knows the jobs given to `add_job` (full names,
`projects/P/locations/L/jobs/J`) and answers NOT_FOUND for any other, as Cloud Run does.
`faults` takes a quota on RunJob (`faults.update({"quotas": {"run_job": {"limit": n,
"per_seconds": 60}}})`, per region; off by default), answered RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.cloud import run_v2
from google.longrunning import operations_pb2
from google.protobuf import any_pb2

from jiwa.dev.faults import FaultPlan


class CloudRunStandIn:
    def __init__(self, run: Callable[[dict[str, str]], object] | None = None) -> None:
        """`run(env)`, when given, starts the job's work for each execution accepted, with
        the environment its overrides set (as Cloud Run starts the container with them)."""
        self._run = run
        self.requests: list[run_v2.RunJobRequest] = []
        self.executions: dict[str, run_v2.Execution] = {}
        self.jobs: dict[str, run_v2.Job] = {}
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.port = 0
        self.faults = FaultPlan()  # only its quotas: RunJob per minute per region
        self.refused: list[run_v2.RunJobRequest] = []

    def start(self, port: int = 0) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler("google.cloud.run.v2.Jobs", {
                "RunJob": grpc.unary_unary_rpc_method_handler(
                    self._run_job, request_deserializer=run_v2.RunJobRequest.deserialize,
                    response_serializer=operations_pb2.Operation.SerializeToString),
                "GetJob": grpc.unary_unary_rpc_method_handler(
                    self._get_job, request_deserializer=run_v2.GetJobRequest.deserialize,
                    response_serializer=run_v2.Job.serialize)}),
            grpc.method_handlers_generic_handler("google.cloud.run.v2.Executions", {
                "GetExecution": grpc.unary_unary_rpc_method_handler(
                    self._get_execution,
                    request_deserializer=run_v2.GetExecutionRequest.deserialize,
                    response_serializer=run_v2.Execution.serialize)}),
            grpc.method_handlers_generic_handler("google.longrunning.Operations", {
                "GetOperation": grpc.unary_unary_rpc_method_handler(
                    self._get_operation,
                    request_deserializer=operations_pb2.GetOperationRequest.FromString,
                    response_serializer=operations_pb2.Operation.SerializeToString)}),
        ))
        self.port = server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        self._server = server
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    def set_execution(self, name: str, **fields: Any) -> None:
        with self._lock:
            execution = self.executions[name]
            for key, value in fields.items():
                setattr(execution, key, value)

    def add_job(self, name: str) -> run_v2.Job:
        """Deploy job `name` (projects/P/locations/L/jobs/J) for GetJob."""
        job = run_v2.Job(name=name, uid=secrets.token_hex(8))
        with self._lock:
            self.jobs[name] = job
        return job

    def _get_job(self, request: run_v2.GetJobRequest, context: Any) -> Any:
        with self._lock:
            job = self.jobs.get(request.name)
        if job is None:
            # Cloud Run's words, e.g. "Resource 'x' of kind 'JOB' in region 'us-central1'
            # in project 'p' does not exist." (seen in github.com/stephengpope/
            # no-code-architects-toolkit/issues/213)
            parts = request.name.split("/")
            project, region, job_id = (parts[1], parts[3], parts[5]) if len(parts) == 6 \
                else ("?", "?", request.name)
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Resource '{job_id}' of kind 'JOB' in region '{region}' in "
                          f"project '{project}' does not exist.")
        return job

    def _run_job(self, request: run_v2.RunJobRequest, context: Any) -> Any:
        # Cloud Run Admin API quota "Job run requests per minute per region" (listed in
        # Google Cloud's quota tables for run.googleapis.com). Its default is not in the
        # copies of cloud.google.com/run/quotas we could read; projects cite 180 a minute
        # (and one 60), so 180 is our assumption: check the console's Quotas page. Over
        # it, Google's APIs answer RESOURCE_EXHAUSTED (HTTP 429) with this shape of
        # message (the Read requests one is quoted in github.com/googleapis/
        # repo-automation-bots/issues/4469); google-api-core raises ResourceExhausted.
        region = request.name.split("/")[3] if request.name.count("/") >= 5 else ""
        if not self.faults.quota("run_job", region).allowed:
            with self._lock:
                self.refused.append(request)
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          "Quota exceeded for quota metric 'Job run requests' and limit "
                          "'Job run requests per minute per region' of service "
                          "'run.googleapis.com' for consumer 'project_number:0'.")
        name = f"{request.name}/executions/{request.name.rsplit('/', 1)[-1]}-" \
               f"{secrets.token_hex(3)}"
        execution = run_v2.Execution(name=name, job=request.name.rsplit("/", 1)[-1],
                                     task_count=request.overrides.task_count or 1,
                                     running_count=1)
        with self._lock:
            self.requests.append(request)
            self.executions[name] = execution
        if self._run is not None:
            env = {e.name: e.value for o in request.overrides.container_overrides
                   for e in o.env}
            self._run(env)
        metadata = any_pb2.Any()
        metadata.Pack(run_v2.Execution.pb(execution))
        return operations_pb2.Operation(name=f"{name}/operation", done=False, metadata=metadata)

    def _get_execution(self, request: run_v2.GetExecutionRequest, context: Any) -> Any:
        with self._lock:
            execution = self.executions.get(request.name)
        if execution is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"execution {request.name} not found")
        return execution

    def _get_operation(self, request: Any, context: Any) -> Any:
        return operations_pb2.Operation(name=request.name, done=False)
