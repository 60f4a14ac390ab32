"""infra/ and the code agree; Terraform is formatted and checkov passes.

The Google provider cannot be downloaded here, so `terraform validate` is out of reach;
these tests parse the HCL instead (python-hcl2)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from jiwa.dev.build import build, requirements
from jiwa.settings import env_names
from jiwa.topology import FUNCTION_CONCURRENCY, routes

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _load() -> dict[str, Any]:
    merged: dict[str, Any] = {"resource": {}, "data": {}, "locals": {}, "variable": {},
                              "output": {}}
    for path in sorted(INFRA.glob("*.tf")):
        doc = _unquote(hcl2.loads(path.read_text()))
        for key in ("resource", "data"):
            for block in doc.get(key, []):
                for kind, named in block.items():
                    merged[key].setdefault(kind, {}).update(named)
        for block in doc.get("locals", []):
            merged["locals"].update(block)
        for key in ("variable", "output"):
            for block in doc.get(key, []):
                merged[key].update(block)
    return merged


TF = _load()
RES = TF["resource"]
DATA = TF["data"]
LOCALS = TF["locals"]


def _text() -> str:
    return "\n".join(p.read_text() for p in sorted(INFRA.glob("*.tf")))


def test_topics_and_subscriptions_match_the_code() -> None:
    assert LOCALS["requested_topic"] == "onboarding-requested"
    assert LOCALS["progress_topic"] == "onboarding-progress"
    infra_routes = {re.sub(r"[${}()]|local\.", "", k): v for k, v in LOCALS["routes"].items()}
    code = {r.topic: r for r in routes()}
    by_topic = {LOCALS[k]: v for k, v in infra_routes.items()}
    assert set(by_topic) == set(code)
    for topic, cfg in by_topic.items():
        route = code[topic]
        assert cfg["subscription"] == route.subscription
        assert cfg["function"] == route.function
        assert cfg["ordered"] is route.ordered
    text = _text()
    assert '"${each.key}-dead-letter"' in text and '"${each.key}-tap"' in text
    assert '"${each.key}-dead-letter-sub"' in text
    assert route.dead_letter_subscription.endswith("-dead-letter-sub")


def test_push_subscriptions_are_ordered_retried_dead_lettered_and_retained() -> None:
    push = RES["google_pubsub_subscription"]["push"]
    assert push["enable_message_ordering"] == "${each.value.ordered}"
    assert LOCALS["routes"]["${(local.progress_topic)}"]["ordered"] is True
    assert push["dead_letter_policy"][0]["dead_letter_topic"].startswith(
        "${google_pubsub_topic.dead_letter")
    assert push["retry_policy"][0]["minimum_backoff"] == "1s"
    assert push["retain_acked_messages"] is True
    assert LOCALS["retention"] == "604800s"
    assert "oidc_token" in push["push_config"][0]


def test_every_function_in_infra_exists_with_its_entry_point() -> None:
    functions = set(LOCALS["functions"])
    on_disk = {p.parent.name for p in (ROOT / "functions").glob("*/main.py")}
    assert functions == on_disk
    for name in functions:
        tree = ast.parse((ROOT / "functions" / name / "main.py").read_text())
        assert "handle" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    fn = RES["google_cloudfunctions2_function"]["fn"]
    assert fn["build_config"][0]["entry_point"] == "handle"


def test_each_function_serves_as_many_requests_at_once_as_the_local_stack_runs() -> None:
    """Concurrency above one needs a whole vCPU and as many gunicorn threads; the local
    stack starts each function with THREADS from the same table."""
    concurrency = {name: int(f["concurrency"]) for name, f in LOCALS["functions"].items()}
    assert concurrency == FUNCTION_CONCURRENCY
    config = RES["google_cloudfunctions2_function"]["fn"]["service_config"][0]
    assert config["max_instance_request_concurrency"] == "${each.value.concurrency}"
    assert config["available_cpu"] == '${each.value.concurrency > 1 ? "1" : null}'
    assert "THREADS = tostring(each.value.concurrency)" in config["environment_variables"]
    assert concurrency["whatsapp_webhook"] > 1  # status callbacks share commits


# Settings deliberately left to their defaults in production, or only for local use.
DEFAULTED = {
    "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "META_GRAPH_URL",
    "INSTAGRAM_AUTH_URL", "INSTAGRAM_API_URL", "INSTAGRAM_GRAPH_URL", "ANTHROPIC_BASE_URL",
    "FAL_BASE_URL", "CLOUD_RUN_API_ENDPOINT", "OAUTH_STATE_TTL_SECONDS",
    "JIWA_PIPELINE", "JIWA_ANTHROPIC_MAX_RETRIES", "JIWA_IMAGE_COUNT",
    "JIWA_IMAGE_CONCURRENCY", "JIWA_IMAGE_MAX_TRIES", "JIWA_IMAGE_QUALITY_THRESHOLD",
    "JIWA_FAL_ATTEMPTS", "JIWA_FAL_TIMEOUT_SECONDS", "JIWA_SCRAPE_ALLOW_HOSTS",
    "JIWA_SCRAPE_ROUTES",
    "JIWA_IMAGE_SCHEDULE", "JIWA_QUERY_LOG", "WHATSAPP_REENGAGE_TEMPLATE",
    "JIWA_STALE_HEARTBEAT_SECONDS",
    "JIWA_QUEUED_TIMEOUT_SECONDS", "JIWA_MAX_REDISPATCHES", "JIWA_COMMANDS_PER_MINUTE",
    "JIWA_NEW_JOBS_PER_MINUTE",
    "WHATSAPP_PAIR_INTERVAL_SECONDS", "WHATSAPP_PAIR_BURST", "WHATSAPP_PACING_MAX_WAIT_SECONDS",
    "JIWA_ADMISSION_JOB_SECONDS", "JIWA_PROMPT_CACHE", "JIWA_CALENDAR_STREAM",
    "JIWA_LOCAL_JOB_START",  # production runs jobs on Cloud Run; local stacks only
}


def test_every_setting_is_deployed_or_deliberately_defaulted() -> None:
    secrets = set(re.findall(r'"([A-Z_]+)"', LOCALS["secrets"]))
    assert len(secrets) == 10
    deployed = set(LOCALS["common_env"]) | secrets | {
        "ANTHROPIC_MODEL", "ANTHROPIC_SCORE_MODEL", "FAL_MODEL", "JIWA_HEARTBEAT_SECONDS"}
    missing = set(env_names()) - deployed - DEFAULTED
    assert not missing, f"settings neither deployed nor listed as defaulted: {missing}"
    assert not DEFAULTED & deployed - {"META_GRAPH_URL"}


def test_secrets_are_granted_per_secret_and_read_as_secret_env() -> None:
    grants = RES["google_secret_manager_secret_iam_member"]
    assert set(grants) == {"functions", "job"}
    assert all(g["role"] == "roles/secretmanager.secretAccessor" for g in grants.values())
    assert "secret_environment_variables" in _text()
    assert "secret_key_ref" in _text()
    # values never in Terraform state: no version written by Terraform, and the check that
    # each secret has one reads metadata only (tests/infra/test_deploy_from_zero.py)
    assert not re.search(r"\bsecret_data(_wo)?\s*=", _text())
    assert "google_secret_manager_secret_version" not in RES
    assert DATA["google_secret_manager_secret_version"]["filled"]["fetch_secret_data"] is False
    assert set(LOCALS["functions"]["notifier"]["secrets"]) == {"WHATSAPP_ACCESS_TOKEN",
                                                               "PHONE_DIGEST_KEY"}
    assert LOCALS["functions"]["dispatcher"]["secrets"] == []
    # the public callback seals tokens with the public half: it holds no key that opens
    # one (decision 0012); the private half is the job's alone
    oauth = set(LOCALS["functions"]["instagram_oauth"]["secrets"])
    assert not oauth & {"TOKEN_ENCRYPTION_KEY", "TOKEN_PRIVATE_KEY"}
    assert LOCALS["common_env"]["TOKEN_PUBLIC_KEY"] == "${var.token_public_key}"
    holders = {n for n, f in LOCALS["functions"].items() if "TOKEN_PRIVATE_KEY" in f["secrets"]}
    assert holders == set() and "TOKEN_PRIVATE_KEY" in LOCALS["job_secrets"]


def test_the_job_retries_once_and_runs_long_enough() -> None:
    job = RES["google_cloud_run_v2_job"]["jiwa"]
    task = job["template"][0]["template"][0]
    assert task["max_retries"] == 1
    assert task["timeout"] == "${var.job_timeout_seconds}s"
    assert TF["variable"]["job_timeout_seconds"]["default"] >= 1800
    assert LOCALS["common_env"]["CLOUD_RUN_JOB_NAME"] == job["name"] == "jiwa-job"
    assert LOCALS["common_env"]["JIWA_JOB_MAX_ATTEMPTS"] == "2"  # max_retries + 1


def test_no_primitive_roles_and_public_only_where_needed() -> None:
    roles = re.findall(r'roles/[a-zA-Z.]+', _text())
    assert not {"roles/owner", "roles/editor", "roles/viewer"} & set(roles)
    public = {k for k, v in LOCALS["functions"].items() if v["public"]}
    assert public == {"whatsapp_webhook", "instagram_oauth"}
    accounts = RES["google_service_account"]
    assert {"fn", "job", "pusher", "scheduler"} <= set(accounts)


def test_firestore_rules_are_deployed() -> None:
    assert "firestore.rules" in _text()


def test_every_box_of_the_flow_has_a_resource() -> None:
    for kind in ("google_cloudfunctions2_function", "google_pubsub_topic",
                 "google_pubsub_subscription", "google_cloud_run_v2_job",
                 "google_firestore_database", "google_cloud_scheduler_job",
                 "google_secret_manager_secret", "google_artifact_registry_repository"):
        assert kind in RES, kind


def test_build_assembles_each_function(tmp_path: Path) -> None:
    built = {p.name: p for p in build(tmp_path)}
    assert set(built) == set(LOCALS["functions"])
    for path in built.values():
        assert (path / "main.py").exists() and (path / "jiwa" / "store.py").exists()
        assert not (path / "jiwa" / "dev").exists() and not (path / "jiwa" / "cli").exists()
        assert (path / "requirements.txt").read_text() == requirements()
    assert "functions-framework" in requirements() and "fal-client" in requirements()


def test_production_code_never_imports_the_dev_tools() -> None:
    # jiwa/dev and the operator CLI are not deployed (the build leaves both out).
    for path in (ROOT / "shared" / "jiwa").rglob("*.py"):
        if {"dev", "cli"} & set(path.relative_to(ROOT / "shared" / "jiwa").parts):
            continue
        assert "jiwa.dev" not in path.read_text(), path


def test_terraform_is_formatted() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed: `terraform fmt -check` not run")
    result = subprocess.run([terraform, "fmt", "-check", "-recursive", str(INFRA)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes() -> None:
    checkov = ROOT / ".jiwa" / "tools" / "bin" / "checkov"
    if not checkov.exists():
        pytest.skip("checkov is not installed (./emulator.sh test installs it into "
                    ".jiwa/tools): not run")
    result = subprocess.run([str(checkov), "-d", str(INFRA), "--quiet", "--compact"],
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
