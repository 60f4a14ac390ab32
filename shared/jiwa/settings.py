"""The one place configuration is read from the environment.

Precedence: an explicit mapping passed to `Settings.from_env` (tests) > the process
environment > the defaults below. The mapping replaces the process environment, it does
not layer over it, so a test sees only what it passes. An empty variable counts as unset.
Names match DESIGN.md's configuration contract and `infra/`.

Every value is checked at start, so a typo fails the cold start naming its variable
instead of a job failing an hour later: `InvalidSettingError` names every bad variable at
once (never a secret's value), `MissingSettingError` every required one that is unset.
`Settings(...)` itself reads no environment: tests build it field by field.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasGenerator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class SettingError(RuntimeError):
    """The configuration cannot be used; the message names the variables."""


class MissingSettingError(SettingError):
    """A required environment variable is not set."""


class InvalidSettingError(SettingError, ValueError):
    """Values the settings refuse; a ValueError as a bad number was (`jiwa doctor`)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)  # variable -> what is wrong, values of secrets left out
        super().__init__("invalid setting(s): " + "; ".join(
            f"{name}: {why}" for name, why in self.problems.items())
            + " (fix them in the environment; see README 'Configuration')")


# Field -> variable where the variable is not the field's name in capitals.
_ENV_NAMES = {
    "project": "GOOGLE_CLOUD_PROJECT", "requested_topic": "JIWA_REQUESTED_TOPIC",
    "progress_topic": "JIWA_PROGRESS_TOPIC", "graph_api_version": "META_GRAPH_VERSION",
    "anthropic_score_model": "ANTHROPIC_SCORE_MODEL",
    "oauth_state_ttl_seconds": "OAUTH_STATE_TTL_SECONDS",
    "default_language": "JIWA_DEFAULT_LANGUAGE", "commands_per_minute": "JIWA_COMMANDS_PER_MINUTE",
    "new_jobs_per_minute": "JIWA_NEW_JOBS_PER_MINUTE", "token_public": "TOKEN_PUBLIC_KEY",
    "job_max_attempts": "JIWA_JOB_MAX_ATTEMPTS", "heartbeat_seconds": "JIWA_HEARTBEAT_SECONDS",
    "stale_heartbeat_seconds": "JIWA_STALE_HEARTBEAT_SECONDS",
    "queued_timeout_seconds": "JIWA_QUEUED_TIMEOUT_SECONDS",
    "admission_max_running": "JIWA_ADMISSION_MAX_RUNNING",
    "admission_starts_per_minute": "JIWA_ADMISSION_STARTS_PER_MINUTE",
    "admission_job_seconds": "JIWA_ADMISSION_JOB_SECONDS",
    "standby_seconds": "JIWA_STANDBY_SECONDS",
    "max_redispatches": "JIWA_MAX_REDISPATCHES", "pipeline": "JIWA_PIPELINE",
    "log_level": "JIWA_LOG_LEVEL", "cloud_run_api_endpoint": "CLOUD_RUN_API_ENDPOINT",
    "anthropic_max_retries": "JIWA_ANTHROPIC_MAX_RETRIES", "image_count": "JIWA_IMAGE_COUNT",
    "image_bucket": "JIWA_IMAGE_BUCKET",
    "image_concurrency": "JIWA_IMAGE_CONCURRENCY", "image_max_tries": "JIWA_IMAGE_MAX_TRIES",
    "image_quality_threshold": "JIWA_IMAGE_QUALITY_THRESHOLD", "fal_attempts": "JIWA_FAL_ATTEMPTS",
    "fal_timeout_seconds": "JIWA_FAL_TIMEOUT_SECONDS", "image_schedule": "JIWA_IMAGE_SCHEDULE",
    "calendar_stream": "JIWA_CALENDAR_STREAM", "local_job_start": "JIWA_LOCAL_JOB_START",
    "scrape_allow_hosts": "JIWA_SCRAPE_ALLOW_HOSTS", "query_log": "JIWA_QUERY_LOG",
    "scrape_routes": "JIWA_SCRAPE_ROUTES", "prompt_cache": "JIWA_PROMPT_CACHE",
}
# Read when the first name is unset (the gcloud tools' older name for the project).
_FALLBACKS = {"project": ("GCLOUD_PROJECT",)}


def _env_name(field_name: str) -> str:
    return _ENV_NAMES.get(field_name, field_name.upper())


def _must(ok: Callable[[str], object], wanted: str) -> AfterValidator:
    """A check whose failure reads "must be <wanted>"; the value is kept as given."""
    def check(value: str) -> str:
        if not ok(value):
            raise ValueError(wanted)
        return value
    return AfterValidator(check)


def _is_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0  # .port raises on a non-number
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok
            and not any(c.isspace() for c in value))


def _is_aes_key(value: str) -> bool:
    try:  # read as crypto.TokenCipher reads it, which would refuse it only at first use
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) == 32
    except ValueError:
        return False


def _level(value: str) -> str:
    if value.upper() not in logging.getLevelNamesMapping():
        raise ValueError("a logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value.upper()  # logging.setLevel takes the names in capitals only


_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}")

# Each type's description is the text after "must be" in an error.
Count = Annotated[int, Field(ge=1, description="a whole number ≥ 1")]
Retries = Annotated[int, Field(ge=0, description="a whole number ≥ 0")]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False, description="a finite number > 0")]
# (Not Field(description=...): that is lost in the `X | None` of an optional setting.)
Url = Annotated[str, _must(_is_url, "an http(s) URL like https://example.com")]
HostPort = Annotated[str, _must(_HOST_PORT.fullmatch, "host:port, like 127.0.0.1:8085")]
Name = Annotated[str, Field(pattern=r"^\S+$", description="a name without spaces")]
Topic = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$",
                             description="a Pub/Sub topic id (3+ characters, from a letter)")]
# Never in repr() or an error message; a field whose name ends in _token, _secret or _key
# must be one of these (tests/unit/test_settings.py checks).
Secret = Annotated[str, Field(repr=False)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True,
        validate_default=False,  # "" is "unset"; tests check the other defaults pass
        alias_generator=AliasGenerator(validation_alias=lambda name: AliasChoices(
            _env_name(name), *_FALLBACKS.get(name, ()))))

    project: str = Field("", pattern=r"^[a-z0-9][a-z0-9.:-]*$",
                         description="a project id (lower-case letters, digits, hyphens)")
    pubsub_emulator_host: HostPort | None = None
    firestore_emulator_host: HostPort | None = None

    requested_topic: Topic = "onboarding-requested"
    progress_topic: Topic = "onboarding-progress"

    whatsapp_access_token: Secret = ""
    whatsapp_phone_number_id: str = Field("", pattern=r"^[0-9]+$", description="digits")
    whatsapp_app_secret: Secret = ""
    whatsapp_verify_token: Secret = ""
    # The approved template sent when the 24-hour window is closed (README "Deploy" has
    # its text to register in WhatsApp Manager, in Indonesian and English).
    whatsapp_reengage_template: str = Field("jiwa_reengage", pattern=r"^[a-z0-9_]{1,512}$",
                                            description="a template name (a-z, 0-9, _)")
    # Per-user pacing (jiwa/pacing.py): Meta's pair rate is about one message per 6 s
    # sustained, with bursts borrowed from the time after; ours stays inside it.
    whatsapp_pair_interval_seconds: Seconds = 6.0
    whatsapp_pair_burst: Count = 10
    whatsapp_pacing_max_wait_seconds: Seconds = 10.0
    meta_graph_url: Url = "https://graph.facebook.com"
    # Meta's newest; expiries in jiwa/lifecycle.py
    graph_api_version: str = Field("v26.0", pattern=r"^v[0-9]+\.[0-9]+$",
                                   description="a Graph API version like v26.0")

    instagram_app_id: Name = ""
    instagram_app_secret: Secret = ""
    instagram_redirect_uri: Url = ""
    instagram_auth_url: Url = "https://www.instagram.com"
    instagram_api_url: Url = "https://api.instagram.com"
    instagram_graph_url: Url = "https://graph.instagram.com"

    anthropic_api_key: Secret = ""
    anthropic_base_url: Url | None = None
    # Current models (Anthropic's models overview, the SDK's model list); retirement dates
    # come from the SDK's table (jiwa/lifecycle.py). The per-image score is a short
    # vision task: the smaller, faster model serves it.
    anthropic_model: Name = "claude-sonnet-5-5"
    anthropic_score_model: Name = "claude-haiku-5-5"
    # Mark the context Claude's calls repeat for Anthropic's prompt cache (jiwa/ai.py);
    # "off" only to measure what caching saves
    prompt_cache: Literal["on", "off"] = Field("on", description="on or off")
    fal_key: Secret = ""
    fal_base_url: Url | None = None
    fal_model: Name = "fal-ai/flux/schnell"
    # the Cloud Storage bucket of our copy of each kept image (infra/storage.tf)
    image_bucket: Annotated[str, _must(re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]").fullmatch,
                                       "a Cloud Storage bucket name")] = ""

    anthropic_max_retries: Retries = 4
    image_count: Count = 6
    image_concurrency: Count = 3
    image_max_tries: Count = 3
    image_quality_threshold: int = Field(7, ge=0, le=10,
                                         description="a whole number from 0 to 10")
    fal_attempts: Count = 3
    fal_timeout_seconds: Seconds = 120.0
    # "barrier" only for the benchmark's comparison
    image_schedule: Literal["stream", "barrier"] = Field(
        "stream", description="stream or barrier")
    # "on": the calendar is streamed and each post's image starts as soon as the post is
    # written (docs/decisions/0013); "off": one answer, then the images (the benchmark's
    # comparison, and a way back should streaming misbehave)
    calendar_stream: Literal["on", "off"] = Field("on", description="on or off")
    # Without Cloud Run, how the dispatcher starts a job: "cold", a new interpreter per
    # attempt as Cloud Run starts a container; "warm", forked from a process that has
    # imported the job's code (jiwa.job.warm; the test suite's stacks, decision 0015)
    local_job_start: Literal["cold", "warm"] = Field("cold", description="cold or warm")
    scrape_allow_hosts: Annotated[str, _must(lambda v: all(
        _HOST_PORT.fullmatch(h.strip()) for h in v.split(",") if h.strip()),
        "a comma-separated list of host:port")] = ""
    # name=host:port,…: names the local website stand-in serves (never in production)
    scrape_routes: Annotated[str, _must(lambda v: all(
        re.fullmatch(r"[A-Za-z0-9.-]+=" + _HOST_PORT.pattern, h.strip())
        for h in v.split(",") if h.strip()), "a comma-separated list of name=host:port")] = ""
    query_log: str = ""  # tests: a file that records each Firestore query's shape

    cloud_run_job_name: str | None = Field(
        None, pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$",
        description="a Cloud Run job name (lower-case letters, digits, hyphens)")
    cloud_run_region: str = Field("asia-southeast2", pattern=r"^[a-z]+-[a-z]+[0-9]+$",
                                  description="a region like asia-southeast2")
    cloud_run_api_endpoint: HostPort | None = None

    oauth_state_secret: Secret = Field("", min_length=16,
                                       description="at least 16 characters")
    # v1 tokens (AES-GCM): read by the job while old tokens remain (decision 0012)
    token_encryption_key: Annotated[Secret, _must(_is_aes_key, "32 bytes, base64url-encoded")] = ""
    # v2 tokens sealed to a key pair (jiwa.sealed_tokens): the public half for the OAuth
    # callback, which can then encrypt but not decrypt; the private half for the job
    token_public: Annotated[str, _must(_is_aes_key, "32 bytes, base64url-encoded")] = ""
    token_private_key: Annotated[Secret, _must(_is_aes_key, "32 bytes, base64url-encoded")] = ""
    oauth_state_ttl_seconds: Count = 900
    # Keys the document ids derived from phone numbers (crypto.PhoneDigest)
    phone_digest_key: Secret = Field("", min_length=16, description="at least 16 characters")

    default_language: Literal["id", "en"] = Field("id", description="id or en")
    commands_per_minute: Count = 6
    # The global brake: onboardings created per minute across all users (issue #15)
    new_jobs_per_minute: Count = 120
    job_max_attempts: Count = 2
    heartbeat_seconds: Seconds = 15.0
    stale_heartbeat_seconds: Seconds = 120.0
    queued_timeout_seconds: Seconds = 300.0
    # Admission (jiwa.admission): unset = every onboarding starts at once
    admission_max_running: Count | None = None
    admission_starts_per_minute: Count = 60
    admission_job_seconds: Seconds = 300.0  # a typical onboarding, for "starts in ~N min"
    # Standby (jiwa.standby, decision 0019): a /daftar starts the job's process at once,
    # to load while the owner logs in; it waits this long for the login. 0 = off.
    standby_seconds: Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False,
                                            description="0 (off) to 3600")] = 0.0
    max_redispatches: Retries = 1
    pipeline: str = Field("jiwa.waves:build_pipeline",
                          pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$",
                          description="module:function")
    log_level: Annotated[str, AfterValidator(_level)] = "INFO"

    def __init__(self, **values: Any) -> None:
        try:  # "" is unset here too, as in the environment
            super().__init__(**{key: value for key, value in values.items() if value != ""})
        except ValidationError as exc:
            problems = _problems(exc)
        else:
            return
        # Raised outside the `except`: pydantic's error, which quotes every input (secrets
        # too), must not ride along as the context of the traceback.
        raise InvalidSettingError(problems)

    @field_validator("stale_heartbeat_seconds")
    @classmethod
    def _outlasts_heartbeat(cls, value: float, info: ValidationInfo) -> float:
        # A job beats every heartbeat_seconds; a shorter staleness would fail live jobs.
        heartbeat = info.data.get("heartbeat_seconds")
        if heartbeat is not None and value <= heartbeat:
            raise ValueError(f"more than {_env_name('heartbeat_seconds')} ({heartbeat:g})")
        return value

    @field_validator("scrape_allow_hosts", "scrape_routes")
    @classmethod
    def _only_beside_the_emulators(cls, value: str, info: ValidationInfo) -> str:
        # Both open the website fetcher to local addresses, past the SSRF rules: a local
        # sample site's way in, and a hole anywhere else. Production never runs beside
        # an emulator, so there they are refused rather than trusted to stay empty.
        emulated = info.data.get("firestore_emulator_host") or info.data.get(
            "pubsub_emulator_host")
        if value.strip() and not emulated:
            raise ValueError("empty unless FIRESTORE_EMULATOR_HOST or PUBSUB_EMULATOR_HOST "
                             "is set (local sample sites only)")
        return value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment only through from_env, no .env files

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, required: Iterable[str] = ()
    ) -> Settings:
        source = os.environ if env is None else env
        try:
            settings = cls(**_Environment(cls, source)())
        except InvalidSettingError as exc:
            problems = {_set_name(name, source): why for name, why in exc.problems.items()}
        else:
            settings.require(*required)
            return settings
        raise InvalidSettingError(problems)  # as in __init__: no context to the traceback

    def require(self, *names: str) -> None:
        """Fail with the variable names of every missing setting in `names`."""
        missing = [_env_name(n) for n in names if not getattr(self, n)]
        if missing:
            raise MissingSettingError(
                "missing required setting(s): " + ", ".join(missing)
                + " (set them in the environment; see README 'Configuration')"
            )

    def secret_values(self) -> list[str]:
        """The secrets that are set, for the log formatter to blank out."""
        return [getattr(self, name) for name in SECRET_FIELDS if getattr(self, name)]

    @property
    def dispatches_to_cloud_run(self) -> bool:
        return bool(self.cloud_run_job_name)


SECRET_FIELDS = tuple(n for n, f in Settings.model_fields.items() if f.repr is False)


class _Environment(EnvSettingsSource):
    """pydantic-settings' reading of the environment, over `environ` instead of
    os.environ, and only our variables (not the lower-case field names too)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = {k: v for k, v in environ.items() if k in _READ and v != ""}
        super().__init__(settings_cls, case_sensitive=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._environ


def _set_name(variable: str, source: Mapping[str, str]) -> str:
    """The variable that held the value: pydantic-settings files a fallback's value (set
    when the first name is not) under the first name."""
    fallbacks = () if source.get(variable) else _FALLBACKS.get(_FIELD_OF.get(variable, ""), ())
    return next((name for name in fallbacks if source.get(name)), variable)


def env_names() -> list[str]:
    """Every variable the settings read (infra tests check each is deployed or defaulted)."""
    return [_env_name(name) for name in Settings.model_fields]


_READ = frozenset(env_names()).union(*_FALLBACKS.values())
_FIELD_OF = {**{_env_name(n): n for n in Settings.model_fields},
             **{alias: n for n, aliases in _FALLBACKS.items() for alias in aliases},
             **{n: n for n in Settings.model_fields}}


def _problems(exc: ValidationError) -> dict[str, str]:
    """One line per bad variable, in the terms of the variable, not of pydantic."""
    problems: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=True):
        key = str(error["loc"][0]) if error["loc"] else ""
        field = _FIELD_OF.get(key)
        if field is None:
            problems[key or "settings"] = "not a setting" if key else error["msg"]
            continue
        variable = _env_name(field)
        info = Settings.model_fields[field]
        if error["type"] == "value_error":  # our validators say what they want
            wanted = str(error["ctx"]["error"])
        else:
            wanted = info.description or error["msg"]
        if info.repr is False:
            problems[variable] = f"invalid (must be {wanted}; the value is not shown)"
        else:
            shown = repr(error["input"])
            shown = shown if len(shown) <= 80 else shown[:77] + "…"
            problems[variable] = f"must be {wanted}, got {shown}"
    return problems
