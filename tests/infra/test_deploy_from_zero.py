"""A first `terraform apply` on a fresh project (issue #20) and narrower identities
(issue #15, item 5), held by the HCL: docs/decisions/0006-deploy-from-zero.md.

The provider cannot be downloaded here, so these tests build the dependency graph from
the parsed HCL: every `type.name` and `data.type.name` an expression or a `depends_on`
mentions, through locals. A resource "depends on" another if that one is in its closure.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from test_infra import DATA, LOCALS, RES, ROOT, _text

from jiwa.settings import env_names

README = (ROOT / "README.md").read_text()

_REF = re.compile(r"(?<![\w.])(data\.)?([a-z][a-z0-9_]*)\.([a-z_][a-z0-9_]*)")
_LOCAL = re.compile(r"(?<![\w.])local\.([a-z_][a-z0-9_]*)")


def _refs_in(value: Any, seen_locals: frozenset[str] = frozenset()) -> set[str]:
    """Addresses (`type.name`, `data.type.name`) that `value` mentions, through locals."""
    text = json.dumps(value)
    found: set[str] = set()
    for data, kind, name in _REF.findall(text):
        if data and name in DATA.get(kind, {}):
            found.add(f"data.{kind}.{name}")
        elif not data and name in RES.get(kind, {}):
            found.add(f"{kind}.{name}")
    for name in set(_LOCAL.findall(text)) - seen_locals:
        if name in LOCALS:
            found |= _refs_in(LOCALS[name], seen_locals | {name})
    return found


def _block(address: str) -> dict[str, Any]:
    parts = address.split(".")
    if parts[0] == "data":
        return DATA[parts[1]][parts[2]]
    return RES[parts[0]][parts[1]]


@cache
def _closure(address: str) -> frozenset[str]:
    todo, done = [address], set()
    while todo:
        current = todo.pop()
        for ref in _refs_in(_block(current)) - done - {current}:
            done.add(ref)
            todo.append(ref)
    return frozenset(done)


def _addresses() -> list[str]:
    managed = [f"{k}.{n}" for k, named in RES.items() for n in named]
    return managed + [f"data.{k}.{n}" for k, named in DATA.items() for n in named]


def _depends_on(address: str) -> set[str]:
    return _refs_in(_block(address).get("depends_on", []))


def _quoted(local: str) -> list[str]:
    """The quoted strings of a local written as an expression (`toset([...])`)."""
    return re.findall(r'"([^"$]+)"', json.dumps(LOCALS[local]).replace('\\"', '"'))


def _deploy_section() -> str:
    return README.split("\n## Deploy\n", 1)[1].split("\n## ", 1)[0]


# --- the bootstrap phase ----------------------------------------------------------------

BOOTSTRAP = "terraform_data.bootstrap"


def test_the_bootstrap_phase_holds_what_the_operator_needs_first() -> None:
    phase = _closure(BOOTSTRAP)
    assert {
        "google_project_service.apis", "time_sleep.apis",
        "google_artifact_registry_repository.jiwa", "google_service_account.build",
        "google_project_iam_member.build", "time_sleep.build_iam",
        "google_storage_bucket.build", "google_secret_manager_secret.s",
    } <= phase


def test_nothing_in_the_bootstrap_needs_a_secret_version_or_an_image() -> None:
    phase = _closure(BOOTSTRAP) | {BOOTSTRAP}
    assert not {a for a in phase if a.startswith("data.")}, "a lookup needs what the operator adds"
    kinds = {a.split(".")[0] for a in phase}
    assert not kinds & {"google_cloudfunctions2_function", "google_cloud_run_v2_job",
                        "google_storage_bucket_object", "google_secret_manager_secret_version"}
    for address in phase:
        body = json.dumps(_block(address))
        assert "secret_data" not in body and "docker_image" not in body, address


def _instances(address: str) -> int:
    """How many instances a bootstrap resource has (its for_each, from the locals)."""
    for_each = _block(address).get("for_each")
    if for_each is None:
        return 1
    match = re.fullmatch(r"\$\{(?:toset\()?local\.(\w+)\)?\}", for_each)
    assert match, f"{address}: for_each {for_each!r} not understood by this test"
    value = LOCALS[match.group(1)]
    return len(value) if isinstance(value, list) else len(_quoted(match.group(1)))


def test_readme_states_what_the_bootstrap_creates() -> None:
    phase = _closure(BOOTSTRAP) | {BOOTSTRAP}
    total = sum(_instances(a) for a in phase)
    deploy = _deploy_section()
    assert f"-target={BOOTSTRAP}" in deploy
    assert f"Resources: {total} added" in deploy
    assert len(_quoted("secrets")) == 10 and "the ten secrets" in deploy


# --- every resource after the API enablement ---------------------------------------------


def test_every_resource_that_calls_an_api_depends_on_its_enablement() -> None:
    missing = [a for a in _addresses()
               if (a.startswith("google_") or a.startswith("data.google_"))
               and a != "google_project_service.apis"
               and "google_project_service.apis" not in _closure(a)]
    assert not missing, f"not after the API enablement: {missing}"


def test_the_graph_has_no_cycle() -> None:
    # Terraform refuses a cycle at plan time, which cannot run here; the waits and lookups
    # added for a deploy from zero are where one would hide (e.g. a grant on the job
    # waited for by the job).
    for address in _addresses():
        assert address not in _closure(address), f"{address} depends on itself"


def test_identities_and_agents_wait_for_the_apis() -> None:
    wait = RES["time_sleep"]["apis"]
    assert "google_project_service.apis" in _refs_in(wait)
    assert int(wait["create_duration"].rstrip("s")) >= 60
    for name in RES["google_service_account"]:
        assert "time_sleep.apis" in _depends_on(f"google_service_account.{name}"), name
    for name in RES["google_project_iam_member"]:
        assert "time_sleep.apis" in _closure(f"google_project_iam_member.{name}"), name
    agent = RES["google_project_service_identity"]["pubsub"]
    assert agent["service"] == "pubsub.googleapis.com"
    assert "time_sleep.apis" in _depends_on("google_project_service_identity.pubsub")
    for kind in ("google_pubsub_topic_iam_member", "google_pubsub_subscription_iam_member",
                 "google_service_account_iam_member"):
        for name, grant in RES[kind].items():
            if "pubsub_agent" in json.dumps(grant):
                assert "google_project_service_identity.pubsub" in _closure(f"{kind}.{name}")
    # the agent comes from the API, not from a spelled-out address
    assert "gcp-sa-pubsub" not in json.dumps([RES, LOCALS])


# --- secrets, image and grants before their consumers -----------------------------------

CONSUMERS = ("google_cloudfunctions2_function.fn", "google_cloud_run_v2_job.jiwa")


def test_secret_versions_exist_before_anything_reads_them() -> None:
    filled = DATA["google_secret_manager_secret_version"]["filled"]
    assert filled["for_each"] == "${google_secret_manager_secret.s}"
    assert filled["fetch_secret_data"] is False  # metadata only: no value in the state
    assert "google_secret_manager_secret_version" not in RES  # no placeholder version
    for consumer in CONSUMERS:
        assert "data.google_secret_manager_secret_version.filled" in _depends_on(consumer)


def test_consumers_wait_for_iam_to_propagate() -> None:
    runtime = RES["time_sleep"]["runtime_iam"]
    assert int(runtime["create_duration"].rstrip("s")) >= 60
    waited = _closure("time_sleep.runtime_iam")
    assert {"google_secret_manager_secret_iam_member.functions",
            "google_secret_manager_secret_iam_member.job",
            "google_project_iam_member.datastore",
            "google_pubsub_topic_iam_member.publishers"} <= waited
    build = RES["time_sleep"]["build_iam"]
    assert int(build["create_duration"].rstrip("s")) >= 60
    assert "google_project_iam_member.build" in _closure("time_sleep.build_iam")
    for consumer in CONSUMERS:
        assert "time_sleep.runtime_iam" in _depends_on(consumer)
    assert "time_sleep.build_iam" in _depends_on(CONSUMERS[0])


def test_the_job_is_created_only_once_its_image_exists() -> None:
    image = DATA["google_artifact_registry_docker_image"]["job"]
    assert image["repository_id"] == \
        "${google_artifact_registry_repository.jiwa.repository_id}"
    assert image["image_name"] == "jiwa-job:${var.job_image_tag}"
    container = RES["google_cloud_run_v2_job"]["jiwa"]["template"][0]["template"][0][
        "containers"][0]
    assert container["image"] == "${data.google_artifact_registry_docker_image.job.self_link}"
    assert "var.job_image}" not in _text() and "job_image_tag" in \
        (ROOT / "infra" / "example.tfvars").read_text()


# --- the build identity ---------------------------------------------------------------


def test_every_function_builds_as_the_build_identity() -> None:
    fn = RES["google_cloudfunctions2_function"]["fn"]
    assert fn["build_config"][0]["service_account"] == "${google_service_account.build.id}"
    assert RES["google_service_account"]["build"]["account_id"] == "jiwa-build"
    assert set(LOCALS["build_roles"]) == {
        "roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectAdmin"}
    grants = RES["google_project_iam_member"]["build"]
    assert grants["member"] == "serviceAccount:${google_service_account.build.email}"
    # nothing else is granted to the build identity
    for kind, named in RES.items():
        for name, block in named.items():
            if (kind, name) != ("google_project_iam_member", "build") and kind.endswith(
                    ("_iam_member", "_iam_binding")):
                assert "google_service_account.build" not in json.dumps(block), (kind, name)


# --- narrower identities (issue #15, item 5) -------------------------------------------

# Each identity, the topics it publishes to, and the code that does it.
PUBLISHES = {
    "whatsapp_webhook": ({"onboarding-requested", "onboarding-progress"},
                         "handlers/webhook.py", "publish_requested"),
    "instagram_oauth": ({"onboarding-requested", "onboarding-progress"}, "handlers/oauth.py",
                        "publish_requested"),
    "dispatcher": ({"onboarding-requested-dead-letter"}, "app.py", "publish_dead_letter"),
    "notifier": ({"onboarding-progress-dead-letter"}, "app.py", "publish_dead_letter"),
    "sweeper": ({"onboarding-requested", "onboarding-progress"}, "handlers/sweeper.py",
                "publish_requested"),
    "job": ({"onboarding-progress"}, "job/runner.py", "publish_progress"),
}


def _topic(expr: str) -> str:
    names = {"${local.requested_topic}": LOCALS["requested_topic"],
             "${local.progress_topic}": LOCALS["progress_topic"]}
    for key, value in names.items():
        expr = expr.replace(key, value)
    return expr


def test_pubsub_publisher_is_granted_per_topic_never_on_the_project() -> None:
    # project-level grants: the build identity's, Firestore (no finer grant exists), and
    # the replay operators' custom role (subscriptions made at run time), which cannot publish
    assert set(RES["google_project_iam_member"]) == {"build", "datastore", "replay_operators"}
    assert not [p for p in RES["google_project_iam_custom_role"]["replay_operator"]
                ["permissions"] if p.startswith("pubsub.topics.publish")]
    assert RES["google_project_iam_member"]["datastore"]["role"] == "roles/datastore.user"
    assert "roles/pubsub.publisher" not in json.dumps(RES["google_project_iam_member"])
    granted = {who: {_topic(t) for t in topics}
               for who, topics in LOCALS["topic_publishers"].items()}
    assert granted == {who: topics for who, (topics, _, _) in PUBLISHES.items()}
    for who, (_, module, call) in PUBLISHES.items():
        assert call in (ROOT / "shared" / "jiwa" / module).read_text(), who
    publishers = RES["google_pubsub_topic_iam_member"]["publishers"]
    assert publishers["role"] == "roles/pubsub.publisher"
    assert {"google_pubsub_topic.main", "google_pubsub_topic.dead_letter"} <= \
        _closure("google_pubsub_topic_iam_member.publishers")


def test_the_dispatcher_runs_the_job_and_nothing_more() -> None:
    grants = RES["google_cloud_run_v2_job_iam_member"]
    dispatcher = grants["dispatcher_runs_job"]
    assert dispatcher["role"] == "roles/run.jobsExecutorWithOverrides"
    assert dispatcher["name"] == "${google_cloud_run_v2_job.jiwa.name}"
    assert "dispatcher" in dispatcher["member"]
    granted = json.dumps(RES)  # the parsed blocks: comments do not count
    for broad in ("roles/run.developer", "roles/run.admin"):
        assert broad not in granted
    assert "roles/run." not in json.dumps(RES["google_project_iam_member"])
    # the launcher only calls RunJob: no operation or execution read that would need more
    launcher = (ROOT / "shared" / "jiwa" / "launchers.py").read_text()
    cloud_run = launcher.split("class CloudRunLauncher", 1)[1].split("\nclass ", 1)[0]
    launch = cloud_run.split("def launch(", 1)[1].split("\n    def ", 1)[0]
    assert "run_job(" in launch and "get_execution" not in launch and ".result(" not in launch


def test_the_sweeper_reads_executions_of_the_job_only() -> None:
    sweeper = RES["google_cloud_run_v2_job_iam_member"]["sweeper_reads_executions"]
    assert sweeper["role"] == "roles/run.viewer"
    assert sweeper["name"] == "${google_cloud_run_v2_job.jiwa.name}"
    assert "roles/run.viewer" not in json.dumps(RES["google_project_iam_member"])


def test_invoker_bindings_name_the_functions_service() -> None:
    bindings = RES["google_cloud_run_service_iam_member"]
    assert set(bindings) == {"public", "push_invoker", "scheduler_invoker"}
    for name, binding in bindings.items():
        assert re.fullmatch(
            r"\$\{google_cloudfunctions2_function\.fn\[[^\]]+\]\.service_config\[0\]\.service\}",
            binding["service"]), name


# --- README "Deploy" and the Terraform agree -----------------------------------------------


def test_readme_deploy_steps_follow_the_phases() -> None:
    deploy = _deploy_section()
    order = [f"terraform apply -var-file=prod.tfvars -target={BOOTSTRAP}",
             "gcloud secrets versions add", "gcloud builds submit", "./emulator.sh build",
             "cd infra && terraform apply -var-file=prod.tfvars\n"]
    positions = [deploy.find(step) for step in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    for secret in _quoted("secrets"):
        assert secret.lower().replace("_", "-") in deploy, secret
    assert set(_quoted("secrets")) <= set(env_names())


def test_readme_image_build_matches_the_terraform() -> None:
    deploy = _deploy_section()
    build = deploy.split("gcloud builds submit", 1)[1].split("```", 1)[0]
    account = RES["google_service_account"]["build"]["account_id"]
    assert f"--service-account=projects/$P/serviceAccounts/{account}@$P.iam.gserviceaccount.com" \
        in build
    bucket = RES["google_storage_bucket"]["build"]["name"].replace("${var.project_id}", "$P")
    assert f"--gcs-log-dir=gs://{bucket}/" in build
    assert f"--gcs-source-staging-dir=gs://{bucket}/" in build
    repo = RES["google_artifact_registry_repository"]["jiwa"]["repository_id"]
    image = DATA["google_artifact_registry_docker_image"]["job"]["image_name"]
    assert f"--tag=$R-docker.pkg.dev/$P/{repo}/" + image.replace("${var.job_image_tag}", "$TAG") \
        in build
    assert "job_image_tag" in deploy


def test_the_decision_is_recorded() -> None:
    decision = ROOT / "docs" / "decisions" / "0006-deploy-from-zero.md"
    assert decision.exists()
    assert Path(decision).read_text().count("Not done here") == 1
