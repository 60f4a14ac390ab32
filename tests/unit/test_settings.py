"""Settings refuse bad values at start, naming the variable (and every bad one at once),
never showing a secret's value; the names, precedence and "empty is unset" hold."""

from __future__ import annotations

import traceback

import pytest

from jiwa.settings import (
    SECRET_FIELDS,
    InvalidSettingError,
    MissingSettingError,
    SettingError,
    Settings,
    env_names,
)


def _refused(env: dict[str, str]) -> InvalidSettingError:
    with pytest.raises(InvalidSettingError) as caught:
        Settings.from_env(env)
    return caught.value


# -- the examples ----------------------------------------------------------------

def test_a_count_that_is_not_a_number_names_the_variable() -> None:
    error = _refused({"JIWA_IMAGE_COUNT": "six"})
    assert "JIWA_IMAGE_COUNT: must be a whole number ≥ 1, got 'six'" in str(error)


def test_a_negative_count_is_refused() -> None:
    assert "JIWA_IMAGE_COUNT: must be a whole number ≥ 1, got '-1'" in str(
        _refused({"JIWA_IMAGE_COUNT": "-1"}))


def test_an_unknown_image_schedule_is_refused() -> None:
    assert "JIWA_IMAGE_SCHEDULE: must be stream or barrier, got 'streem'" in str(
        _refused({"JIWA_IMAGE_SCHEDULE": "streem"}))


def test_an_unsupported_language_is_refused() -> None:
    assert "JIWA_DEFAULT_LANGUAGE: must be id or en, got 'fr'" in str(
        _refused({"JIWA_DEFAULT_LANGUAGE": "fr"}))


def test_every_bad_variable_is_named_at_once() -> None:
    error = _refused({"JIWA_IMAGE_COUNT": "six", "JIWA_IMAGE_SCHEDULE": "streem",
                      "JIWA_DEFAULT_LANGUAGE": "fr", "JIWA_FAL_TIMEOUT_SECONDS": "0"})
    assert set(error.problems) == {"JIWA_IMAGE_COUNT", "JIWA_IMAGE_SCHEDULE",
                                   "JIWA_DEFAULT_LANGUAGE", "JIWA_FAL_TIMEOUT_SECONDS"}
    assert all(name in str(error) for name in error.problems)


# -- every refusal names its variable ----------------------------------------------------

BAD = [
    ("GOOGLE_CLOUD_PROJECT", "My Project"), ("GCLOUD_PROJECT", "my/project"),
    ("PUBSUB_EMULATOR_HOST", "localhost"), ("FIRESTORE_EMULATOR_HOST", "http://x:8080"),
    ("JIWA_REQUESTED_TOPIC", "a b"), ("JIWA_PROGRESS_TOPIC", "1topic"),
    ("WHATSAPP_PHONE_NUMBER_ID", "+62 812"), ("WHATSAPP_REENGAGE_TEMPLATE", "Jiwa Update"),
    ("META_GRAPH_URL", "graph.facebook.com"), ("WHATSAPP_PAIR_INTERVAL_SECONDS", "0"),
    ("JIWA_IMAGE_BUCKET", "Images_Bucket!"),
    ("WHATSAPP_PAIR_BURST", "1.5"), ("WHATSAPP_PACING_MAX_WAIT_SECONDS", "-3"),
    ("META_GRAPH_VERSION", "26"), ("INSTAGRAM_APP_ID", "an id"),
    ("INSTAGRAM_REDIRECT_URI", "ftp://x/cb"), ("INSTAGRAM_AUTH_URL", "https://"),
    ("INSTAGRAM_API_URL", "https://x:port"), ("INSTAGRAM_GRAPH_URL", "https://a b"),
    ("ANTHROPIC_BASE_URL", "localhost:8080"), ("ANTHROPIC_MODEL", "claude sonnet"),
    ("ANTHROPIC_SCORE_MODEL", " "), ("FAL_BASE_URL", "fal"), ("FAL_MODEL", "flux schnell"),
    ("JIWA_ANTHROPIC_MAX_RETRIES", "-1"), ("JIWA_IMAGE_CONCURRENCY", "0"),
    ("JIWA_IMAGE_MAX_TRIES", "2.5"), ("JIWA_IMAGE_QUALITY_THRESHOLD", "11"),
    ("JIWA_FAL_ATTEMPTS", "three"), ("JIWA_FAL_TIMEOUT_SECONDS", "nan"),
    ("JIWA_SCRAPE_ALLOW_HOSTS", "127.0.0.1:80,localhost"), ("CLOUD_RUN_JOB_NAME", "Jiwa_Job"),
    ("JIWA_SCRAPE_ROUTES", "s.id=127.0.0.1:9,linktr.ee"), ("JIWA_PROMPT_CACHE", "yes"),
    ("JIWA_CALENDAR_STREAM", "true"), ("JIWA_LOCAL_JOB_START", "fork"),
    ("CLOUD_RUN_REGION", "jakarta"), ("CLOUD_RUN_API_ENDPOINT", "https://run.googleapis.com"),
    ("OAUTH_STATE_TTL_SECONDS", "15m"), ("JIWA_COMMANDS_PER_MINUTE", "0"),
    ("JIWA_NEW_JOBS_PER_MINUTE", "-5"),
    ("JIWA_JOB_MAX_ATTEMPTS", "-2"), ("JIWA_HEARTBEAT_SECONDS", "-1"),
    ("JIWA_STALE_HEARTBEAT_SECONDS", "10"), ("JIWA_QUEUED_TIMEOUT_SECONDS", "inf"),
    ("JIWA_MAX_REDISPATCHES", "many"), ("JIWA_ADMISSION_MAX_RUNNING", "0"),
    ("JIWA_ADMISSION_STARTS_PER_MINUTE", "-1"), ("JIWA_ADMISSION_JOB_SECONDS", "0"),
    ("JIWA_STANDBY_SECONDS", "-1"),
    ("JIWA_PIPELINE", "jiwa.waves.build_pipeline"),
    ("JIWA_LOG_LEVEL", "LOUD"), ("OAUTH_STATE_SECRET", "too-short"),
    ("TOKEN_ENCRYPTION_KEY", "not-32-bytes"), ("PHONE_DIGEST_KEY", "too-short"),
    ("TOKEN_PUBLIC_KEY", "not-a-key"), ("TOKEN_PRIVATE_KEY", "not-32-bytes"),
]


@pytest.mark.parametrize(("variable", "value"), BAD)
def test_every_refusal_names_its_variable(variable: str, value: str) -> None:
    error = _refused({variable: value})
    assert list(error.problems) == [variable]
    assert str(error).startswith(f"invalid setting(s): {variable}: ")
    assert "README 'Configuration'" in str(error)


def test_the_bad_values_cover_every_checked_variable() -> None:
    examples = {"JIWA_IMAGE_COUNT", "JIWA_IMAGE_SCHEDULE", "JIWA_DEFAULT_LANGUAGE"}  # above
    unchecked = {"WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
                 "INSTAGRAM_APP_SECRET", "ANTHROPIC_API_KEY", "FAL_KEY", "JIWA_QUERY_LOG"}
    assert {v for v, _ in BAD} | examples | unchecked == set(env_names()) | {"GCLOUD_PROJECT"}


def test_staleness_must_outlast_the_heartbeat() -> None:
    error = _refused({"JIWA_HEARTBEAT_SECONDS": "5", "JIWA_STALE_HEARTBEAT_SECONDS": "5"})
    assert error.problems == {
        "JIWA_STALE_HEARTBEAT_SECONDS": "must be more than JIWA_HEARTBEAT_SECONDS (5), "
                                        "got '5'"}


# -- secrets -----------------------------------------------------------------------------

def test_a_bad_secret_is_called_invalid_without_its_value() -> None:
    state, key = "sHoRt-StAtE", "bm90LWEta2V5LXZhbHVl"
    error = _refused({"OAUTH_STATE_SECRET": state, "TOKEN_ENCRYPTION_KEY": key,
                      "JIWA_IMAGE_COUNT": "six"})
    assert error.problems["OAUTH_STATE_SECRET"].startswith("invalid")
    assert error.problems["TOKEN_ENCRYPTION_KEY"].startswith("invalid")
    # Not in the message, nor anywhere in the traceback (pydantic's own error, which
    # quotes every input, is not chained on).
    shown = "".join(traceback.format_exception(error))
    assert state not in shown and key not in shown and "six" in shown
    assert error.__context__ is None and error.__cause__ is None


def test_secrets_are_not_in_the_repr_and_are_named_as_such() -> None:
    settings = Settings(project="p", whatsapp_access_token="EAA-secret-token",
                        fal_key="fal-secret-key")
    assert "EAA-secret-token" not in repr(settings) and "fal-secret-key" not in repr(settings)
    assert settings.secret_values() == ["EAA-secret-token", "fal-secret-key"]
    named_secret = {n for n in Settings.model_fields if n.endswith(("_token", "_secret", "_key"))}
    assert named_secret == set(SECRET_FIELDS)


# -- names, precedence, empty --------------------------------------------------------------

def test_the_variable_names_are_the_contracts() -> None:
    names = env_names()
    assert len(names) == len(Settings.model_fields) == len(set(names))
    assert {"GOOGLE_CLOUD_PROJECT", "META_GRAPH_VERSION", "ANTHROPIC_SCORE_MODEL",
            "OAUTH_STATE_TTL_SECONDS", "CLOUD_RUN_API_ENDPOINT", "JIWA_IMAGE_COUNT",
            "WHATSAPP_APP_SECRET", "TOKEN_ENCRYPTION_KEY", "JIWA_LOG_LEVEL"} <= set(names)
    s = Settings.from_env({"META_GRAPH_VERSION": "v25.0", "project": "lower",
                           "graph_api_version": "v1.0"})  # field names are not variables
    assert (s.graph_api_version, s.project) == ("v25.0", "")


def test_an_explicit_mapping_beats_the_process_environment_which_beats_defaults(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIWA_IMAGE_COUNT", "9")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-process")
    assert Settings.from_env().image_count == 9
    assert Settings.from_env().project == "from-process"
    assert Settings.from_env({"JIWA_IMAGE_COUNT": "2"}).image_count == 2
    # The mapping replaces the process environment: what it lacks takes the default.
    assert Settings.from_env({}).image_count == 6
    assert Settings.from_env({}).project == ""
    monkeypatch.setenv("JIWA_IMAGE_COUNT", "nine")
    with pytest.raises(InvalidSettingError, match="JIWA_IMAGE_COUNT"):
        Settings.from_env()


def test_the_project_falls_back_to_gcloud_project() -> None:
    assert Settings.from_env({"GCLOUD_PROJECT": "g"}).project == "g"
    assert Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", "GCLOUD_PROJECT": "g"}).project == "p"
    assert Settings.from_env({"GOOGLE_CLOUD_PROJECT": "", "GCLOUD_PROJECT": "g"}).project == "g"


def test_an_empty_variable_is_unset() -> None:
    s = Settings.from_env({"JIWA_IMAGE_COUNT": "", "ANTHROPIC_BASE_URL": "",
                           "OAUTH_STATE_SECRET": "", "JIWA_IMAGE_SCHEDULE": ""})
    assert (s.image_count, s.anthropic_base_url, s.oauth_state_secret,
            s.image_schedule) == (6, None, "", "stream")
    assert Settings(project="p", anthropic_base_url="", image_count="").image_count == 6
    with pytest.raises(MissingSettingError, match="GOOGLE_CLOUD_PROJECT"):
        Settings.from_env({"GOOGLE_CLOUD_PROJECT": ""}, required=["project"])


def test_every_default_passes_its_own_check() -> None:
    """Defaults are not checked at construction ("" is unset): check them here."""
    defaults = {name: str(f.default) for name, f in Settings.model_fields.items()
                if f.default not in ("", None)}
    env = {variable: defaults[field] for field, variable in
           zip(Settings.model_fields, env_names(), strict=True) if field in defaults}
    assert Settings.from_env(env) == Settings()


def test_good_values_are_read_and_kept() -> None:
    s = Settings.from_env({
        "GOOGLE_CLOUD_PROJECT": "jiwa-prod", "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085",
        "META_GRAPH_URL": "http://127.0.0.1:9001", "JIWA_LOG_LEVEL": "debug",
        "JIWA_SCRAPE_ALLOW_HOSTS": "127.0.0.1:8000, [::1]:8001", "JIWA_IMAGE_SCHEDULE": "barrier",
        "JIWA_FAL_TIMEOUT_SECONDS": "0.5", "JIWA_IMAGE_QUALITY_THRESHOLD": "0",
        "JIWA_MAX_REDISPATCHES": "0", "CLOUD_RUN_JOB_NAME": "jiwa-job",
        "TOKEN_ENCRYPTION_KEY": "A" * 43, "OAUTH_STATE_SECRET": "x" * 16})
    assert s.meta_graph_url == "http://127.0.0.1:9001"  # as given: callers join paths on
    assert (s.log_level, s.fal_timeout_seconds, s.image_schedule) == ("DEBUG", 0.5, "barrier")
    assert s.dispatches_to_cloud_run


def test_settings_are_frozen_and_refuse_unknown_fields() -> None:
    s = Settings(project="p")
    with pytest.raises(ValueError, match="frozen"):
        s.image_count = 2  # type: ignore[misc]
    with pytest.raises(InvalidSettingError, match="image_cuont: not a setting"):
        Settings(project="p", image_cuont=2)


def test_the_errors_share_a_base_and_invalid_is_a_value_error() -> None:
    assert issubclass(MissingSettingError, SettingError)
    assert issubclass(InvalidSettingError, SettingError)
    assert issubclass(InvalidSettingError, ValueError)  # `jiwa doctor` catches ValueError


# -- the entry points turn it into a clean exit ------------------------------------------

def test_the_job_exits_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from jiwa.job.__main__ import main

    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("JIWA_IMAGE_COUNT", "six")
    with pytest.raises(SystemExit) as exited:
        main()
    assert str(exited.value.code).startswith("jiwa-job: invalid setting(s): JIWA_IMAGE_COUNT")


def test_the_cli_prints_the_error_without_a_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from jiwa.cli import main

    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("JIWA_DEFAULT_LANGUAGE", "fr")
    assert main(["jobs", "list"]) == 2
    out = capsys.readouterr().out
    assert "JIWA_DEFAULT_LANGUAGE: must be id or en" in out and "Traceback" not in out


def test_a_function_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from jiwa import app, clients

    monkeypatch.setattr(clients, "_CACHED", {})
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("JIWA_IMAGE_SCHEDULE", "streem")
    app.install(None)
    try:
        with pytest.raises(InvalidSettingError, match="JIWA_IMAGE_SCHEDULE"):
            app.webhook()  # the framework answers 500 and logs the message
    finally:
        app.install(None)


@pytest.mark.parametrize("variable", ["JIWA_SCRAPE_ALLOW_HOSTS", "JIWA_SCRAPE_ROUTES"])
def test_fetcher_openings_are_refused_away_from_the_emulators(variable: str) -> None:
    value = "127.0.0.1:8000" if variable == "JIWA_SCRAPE_ALLOW_HOSTS" else "s.id=127.0.0.1:8000"
    error = _refused({variable: value})
    assert list(error.problems) == [variable]
    assert "EMULATOR_HOST" in error.problems[variable]
    beside = Settings.from_env({variable: value, "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"})
    assert value in (beside.scrape_allow_hosts, beside.scrape_routes)
