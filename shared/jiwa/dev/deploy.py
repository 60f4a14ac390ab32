"""The deploy from zero, as one command (`./deploy.sh`): README "Deploy", step by step.

    ./deploy.sh --var-file infra/prod.tfvars [--dry-run] [--image-tag TAG]

Runs the phases of docs/decisions/0006 in order and is safe to run again: the bootstrap
apply changes nothing the second time, a secret that has a version is left alone, an
image tag already pushed is not built again. It stops, with the exact commands to run, at
the one step only the operator can do (the secret values). `--dry-run` prints every
command it would run, in order, and runs none. It ends with `jiwa doctor`, with the
deployed settings and the secrets read from Secret Manager into its environment only.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"


@dataclass(frozen=True)
class Plan:
    var_file: Path
    project: str
    region: str
    tag: str
    secrets: list[str] = field(default_factory=list)

    @property
    def image(self) -> str:
        return f"{self.region}-docker.pkg.dev/{self.project}/jiwa/jiwa-job:{self.tag}"


def read_tfvars(path: Path) -> dict[str, str]:
    """`key = "value"` lines of a .tfvars file (the only form example.tfvars uses)."""
    found = {}
    for line in path.read_text().splitlines():
        if (match := re.match(r'\s*(\w+)\s*=\s*"([^"]*)"', line)):
            found[match.group(1)] = match.group(2)
    return found


def secret_ids(infra: Path = INFRA) -> list[str]:
    """The secrets infra/ creates: `local.secrets`' names as secrets.tf names them
    (lower case, dashes)."""
    text = (infra / "main.tf").read_text()
    block = re.search(r"secrets\s*=\s*toset\(\[(.*?)\]\)", text, re.S)
    names = re.findall(r'"([A-Z_]+)"', block.group(1)) if block else []
    return sorted(n.lower().replace("_", "-") for n in names)


def plan_from(var_file: Path, tag: str | None = None) -> Plan:
    values = read_tfvars(var_file)
    missing = [k for k in ("project_id", "region", "job_image_tag") if not values.get(k)]
    if missing and not (tag and missing == ["job_image_tag"]):
        sys.exit(f"deploy: {var_file} does not set {', '.join(missing)}")
    return Plan(var_file.resolve(), values["project_id"], values["region"],
                tag or values["job_image_tag"], secret_ids())


class Runner:
    """Runs commands, or only prints them (`--dry-run`); every command is printed."""

    def __init__(self, dry_run: bool) -> None:
        self.dry_run = dry_run

    def run(self, command: Sequence[str], *, cwd: Path = ROOT, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str] | None:
        print("+ " + shlex.join(command), flush=True)
        if self.dry_run:
            return None
        return subprocess.run(list(command), cwd=cwd, check=check, text=True, env=env)

    def probe(self, command: Sequence[str]) -> str | None:
        """A read-only question's answer (None in a dry run, which answers nothing)."""
        print("+ " + shlex.join(command), flush=True)
        if self.dry_run:
            return None
        done = subprocess.run(list(command), cwd=ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else ""


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def missing_secrets(runner: Runner, plan: Plan) -> list[str]:
    empty = []
    for secret in plan.secrets:
        answer = runner.probe(["gcloud", "secrets", "versions", "list", secret,
                               f"--project={plan.project}", "--filter=state:enabled",
                               "--limit=1", "--format=value(name)"])
        if answer == "":
            empty.append(secret)
    return empty


def deploy(plan: Plan, runner: Runner, doctor: Callable[[Plan, Runner], int]) -> int:
    tf = ["terraform", f"-chdir={INFRA}"]
    var = f"-var-file={plan.var_file}"
    step("1. terraform init")
    runner.run([*tf, "init", "-input=false"])
    step("2. bootstrap: APIs, Artifact Registry, the build identity, empty secrets")
    runner.run([*tf, "apply", var, "-target=terraform_data.bootstrap"])
    step("3. secrets: each needs a version (values never enter Terraform state)")
    empty = missing_secrets(runner, plan)
    if empty:
        print("deploy: these secrets have no version yet. Add each, then run ./deploy.sh "
              "again:", file=sys.stderr)
        for secret in empty:
            print(f"  printf '%s' \"$VALUE\" | gcloud secrets versions add {secret} "
                  f"--data-file=- --project={plan.project}", file=sys.stderr)
        return 3
    step(f"4. the job image {plan.image}")
    exists = runner.probe(["gcloud", "artifacts", "docker", "images", "describe", plan.image,
                           f"--project={plan.project}", "--format=value(image_summary.digest)"])
    if not exists:
        account = f"jiwa-build@{plan.project}.iam.gserviceaccount.com"
        bucket = f"gs://{plan.project}-jiwa-build"
        runner.run(["gcloud", "builds", "submit", f"--project={plan.project}",
                    f"--region={plan.region}",
                    f"--service-account=projects/{plan.project}/serviceAccounts/{account}",
                    f"--gcs-source-staging-dir={bucket}/source", f"--gcs-log-dir={bucket}/logs",
                    f"--tag={plan.image}", "."])
    step("5. the functions' sources")
    runner.run(["./emulator.sh", "build"])
    step("6. everything else")
    runner.run([*tf, "apply", var, f"-var=job_image_tag={plan.tag}"])
    step("7. Meta (by hand, once): paste the webhook_url output as the WhatsApp webhook "
         "callback URL with your verify token, subscribe to `messages`, and register the "
         "oauth_redirect_uri output in the Instagram app")
    step("8. preflight: jiwa doctor")
    return doctor(plan, runner)


def run_doctor(plan: Plan, runner: Runner) -> int:
    """`jiwa doctor` with the deployed settings; each secret is read from Secret Manager
    into the doctor's environment only (never printed)."""
    # the operator's environment less anything that would point the doctor elsewhere
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")
           and k not in {"ANTHROPIC_BASE_URL", "FAL_BASE_URL", "META_GRAPH_URL",
                         "CLOUD_RUN_API_ENDPOINT"}}
    env |= {"GOOGLE_CLOUD_PROJECT": plan.project, "CLOUD_RUN_JOB_NAME": "jiwa-job",
            "CLOUD_RUN_REGION": plan.region}
    env.update(read_tfvars_env(plan))
    redirect = runner.probe(["terraform", f"-chdir={INFRA}", "output", "-raw",
                             "oauth_redirect_uri"])
    if redirect:
        env["INSTAGRAM_REDIRECT_URI"] = redirect
    for secret in plan.secrets:
        value = runner.probe(["gcloud", "secrets", "versions", "access", "latest",
                              f"--secret={secret}", f"--project={plan.project}"])
        if value:
            env[secret.upper().replace("-", "_")] = value
    done = runner.run([str(ROOT / ".venv" / "bin" / "jiwa"), "doctor"], check=False, env=env)
    return 0 if done is None else done.returncode


def read_tfvars_env(plan: Plan) -> dict[str, str]:
    values = read_tfvars(plan.var_file)
    return {env: values[key] for key, env in (
        ("whatsapp_phone_number_id", "WHATSAPP_PHONE_NUMBER_ID"),
        ("instagram_app_id", "INSTAGRAM_APP_ID"), ("meta_graph_version", "META_GRAPH_VERSION"),
        ("anthropic_model", "ANTHROPIC_MODEL"),
        ("anthropic_score_model", "ANTHROPIC_SCORE_MODEL")) if values.get(key)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--var-file", type=Path, default=INFRA / "prod.tfvars")
    parser.add_argument("--image-tag", help="the job image tag (default: job_image_tag)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    if not args.var_file.exists():
        sys.exit(f"deploy: {args.var_file} not found: cp infra/example.tfvars "
                 f"{args.var_file} and fill it in")
    return deploy(plan_from(args.var_file, args.image_tag), Runner(args.dry_run), run_doctor)


if __name__ == "__main__":
    sys.exit(main())
