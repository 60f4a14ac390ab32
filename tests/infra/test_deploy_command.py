"""./deploy.sh: the deploy from zero in order, safe to run again, stopping where the
operator must act, and the same steps as README "Deploy"."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jiwa.dev import deploy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "infra" / "example.tfvars"
# what marks each step in a command line, in README "Deploy"'s order
STEPS = ["terraform init", "-target=terraform_data.bootstrap", "gcloud builds submit",
         "./emulator.sh build", "apply -var-file"]


class Scripted(deploy.Runner):
    """Records commands; answers the read-only questions from `answers`."""

    def __init__(self, answers: dict[str, str]) -> None:
        super().__init__(dry_run=False)
        self.commands: list[str] = []
        self.answers = answers

    def run(self, command: Sequence[str], **_: Any) -> None:  # type: ignore[override]
        self.commands.append(" ".join(command))

    def probe(self, command: Sequence[str]) -> str | None:
        line = " ".join(command)
        self.commands.append(line)
        return next((a for key, a in self.answers.items() if key in line), "")


def _positions(text: str) -> list[int]:
    """Where each step's marker is, each searched after the one before (-1: missing)."""
    found, start = [], 0
    for marker in STEPS:
        at = text.find(marker, start)
        found.append(at)
        start = at + 1 if at >= 0 else start
    return found


def test_the_dry_run_prints_the_whole_path_in_order() -> None:
    done = subprocess.run([str(ROOT / "deploy.sh"), "--dry-run", "--var-file", str(EXAMPLE)],
                          capture_output=True, text=True, timeout=120, check=True)
    assert -1 not in _positions(done.stdout), done.stdout
    assert done.stdout.count("gcloud secrets versions list") == 10
    assert done.stdout.rstrip().endswith("jiwa doctor")


def test_readme_deploy_has_the_same_steps_in_the_same_order() -> None:
    readme = ROOT.joinpath("README.md").read_text()
    section = readme[readme.index("## Deploy"):readme.index("## Operating")]
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", section, re.S))
    assert -1 not in _positions(blocks), blocks
    assert "./deploy.sh" in section


def test_the_secrets_are_the_ones_infra_creates() -> None:
    assert deploy.secret_ids() == sorted([
        "anthropic-api-key", "fal-key", "instagram-app-secret", "oauth-state-secret",
        "phone-digest-key", "token-encryption-key", "token-private-key", "whatsapp-access-token",
        "whatsapp-app-secret",
        "whatsapp-verify-token"])


def test_it_stops_at_a_secret_without_a_version_with_the_command_to_add_it(capsys) -> None:
    plan = deploy.plan_from(EXAMPLE)
    runner = Scripted({s: "projects/p/secrets/s/versions/1" for s in plan.secrets
                       if s != "fal-key"})
    assert deploy.deploy(plan, runner, lambda *_: 0) == 3
    assert "gcloud secrets versions add fal-key --data-file=-" in capsys.readouterr().err
    assert not any("builds submit" in c or c.endswith("job_image_tag=2026-11-28")
                   for c in runner.commands)


def test_run_again_it_builds_no_image_that_exists_and_ends_with_the_doctor() -> None:
    plan = deploy.plan_from(EXAMPLE)
    answers = {"secrets versions list": "projects/p/secrets/s/versions/1",
               "images describe": "sha256:abc"}
    runner, doctored = Scripted(answers), []
    assert deploy.deploy(plan, runner, lambda p, r: doctored.append(p) or 0) == 0
    assert not any("builds submit" in c for c in runner.commands)
    assert runner.commands[-1].endswith("apply -var-file=" + str(EXAMPLE.resolve())
                                        + " -var=job_image_tag=2026-11-28")
    assert doctored == [plan]
