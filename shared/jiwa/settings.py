"""The one place configuration is read from the environment.

Precedence: an explicit mapping passed to `Settings.from_env` (tests) > the process
environment > the defaults below. Names match DESIGN.md's configuration contract and
`infra/`. A required value that is missing fails at start with the variable's name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any


class MissingSettingError(RuntimeError):
    """A required environment variable is not set."""


@dataclass(frozen=True)
class Settings:
    project: str
    pubsub_emulator_host: str | None = None
    firestore_emulator_host: str | None = None

    requested_topic: str = "onboarding-requested"
    progress_topic: str = "onboarding-progress"

    whatsapp_access_token: str = ""
    whatsapp_phone_number_id: str = ""
    whatsapp_app_secret: str = ""
    whatsapp_verify_token: str = ""
    meta_graph_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v26.0"  # Meta's newest; expiries in jiwa/lifecycle.py

    instagram_app_id: str = ""
    instagram_app_secret: str = ""
    instagram_redirect_uri: str = ""
    instagram_auth_url: str = "https://www.instagram.com"
    instagram_api_url: str = "https://api.instagram.com"
    instagram_graph_url: str = "https://graph.instagram.com"

    anthropic_api_key: str = ""
    anthropic_base_url: str | None = None
    # Current models (Anthropic's models overview, the SDK's model list); retirement dates
    # come from the SDK's table (jiwa/lifecycle.py). The per-image score is a short
    # vision task: the smaller, faster model serves it.
    anthropic_model: str = "claude-sonnet-5-5"
    anthropic_score_model: str = "claude-haiku-5-5"
    fal_key: str = ""
    fal_base_url: str | None = None
    fal_model: str = "fal-ai/flux/schnell"

    anthropic_max_retries: int = 4
    image_count: int = 6
    image_concurrency: int = 3
    image_max_tries: int = 3
    image_quality_threshold: int = 7
    fal_attempts: int = 3
    fal_timeout_seconds: float = 120.0
    image_schedule: str = "stream"  # "barrier" only for the benchmark's comparison
    scrape_allow_hosts: str = ""
    query_log: str = ""  # tests: a file that records each Firestore query's shape

    cloud_run_job_name: str | None = None
    cloud_run_region: str = "asia-southeast2"
    cloud_run_api_endpoint: str | None = None

    oauth_state_secret: str = ""
    token_encryption_key: str = ""
    oauth_state_ttl_seconds: int = 900

    default_language: str = "id"
    commands_per_minute: int = 6
    job_max_attempts: int = 2
    heartbeat_seconds: float = 15.0
    stale_heartbeat_seconds: float = 120.0
    queued_timeout_seconds: float = 300.0
    max_redispatches: int = 1
    pipeline: str = "jiwa.waves:build_pipeline"
    log_level: str = "INFO"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, required: Iterable[str] = ()
    ) -> Settings:
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = source.get(_env_name(f.name))
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(raw, f.type)
        if "project" not in values:
            values["project"] = source.get("GCLOUD_PROJECT", "")
        settings = cls(**values)
        settings.require(*required)
        return settings

    def require(self, *names: str) -> None:
        """Fail with the variable names of every missing setting in `names`."""
        missing = [_env_name(n) for n in names if not getattr(self, n)]
        if missing:
            raise MissingSettingError(
                "missing required setting(s): " + ", ".join(missing)
                + " (set them in the environment; see README 'Configuration')"
            )

    @property
    def dispatches_to_cloud_run(self) -> bool:
        return bool(self.cloud_run_job_name)


_ENV_NAMES = {
    "project": "GOOGLE_CLOUD_PROJECT",
    "requested_topic": "JIWA_REQUESTED_TOPIC",
    "progress_topic": "JIWA_PROGRESS_TOPIC",
    "graph_api_version": "META_GRAPH_VERSION",
    "anthropic_score_model": "ANTHROPIC_SCORE_MODEL",
    "oauth_state_ttl_seconds": "OAUTH_STATE_TTL_SECONDS",
    "default_language": "JIWA_DEFAULT_LANGUAGE",
    "commands_per_minute": "JIWA_COMMANDS_PER_MINUTE",
    "job_max_attempts": "JIWA_JOB_MAX_ATTEMPTS",
    "heartbeat_seconds": "JIWA_HEARTBEAT_SECONDS",
    "stale_heartbeat_seconds": "JIWA_STALE_HEARTBEAT_SECONDS",
    "queued_timeout_seconds": "JIWA_QUEUED_TIMEOUT_SECONDS",
    "max_redispatches": "JIWA_MAX_REDISPATCHES",
    "pipeline": "JIWA_PIPELINE",
    "log_level": "JIWA_LOG_LEVEL",
    "cloud_run_api_endpoint": "CLOUD_RUN_API_ENDPOINT",
    "anthropic_max_retries": "JIWA_ANTHROPIC_MAX_RETRIES",
    "image_count": "JIWA_IMAGE_COUNT",
    "image_concurrency": "JIWA_IMAGE_CONCURRENCY",
    "image_max_tries": "JIWA_IMAGE_MAX_TRIES",
    "image_quality_threshold": "JIWA_IMAGE_QUALITY_THRESHOLD",
    "fal_attempts": "JIWA_FAL_ATTEMPTS",
    "fal_timeout_seconds": "JIWA_FAL_TIMEOUT_SECONDS",
    "image_schedule": "JIWA_IMAGE_SCHEDULE",
    "scrape_allow_hosts": "JIWA_SCRAPE_ALLOW_HOSTS",
    "query_log": "JIWA_QUERY_LOG",
}


def _env_name(field_name: str) -> str:
    return _ENV_NAMES.get(field_name, field_name.upper())


def env_names() -> list[str]:
    """Every variable the settings read (infra tests check each is deployed or defaulted)."""
    return [_env_name(f.name) for f in fields(Settings)]


def _coerce(raw: str, annotation: Any) -> Any:
    kind = str(annotation)
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    return raw
