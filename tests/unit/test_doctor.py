"""`jiwa doctor`'s runner and its checks that need no network: a check that raises or
hangs is one failed line among the others, secrets never reach a line, and the
configuration rules (Instagram's redirect URI, the Graph version's end of life)."""

from __future__ import annotations

import threading
import time
from datetime import date

from jiwa.cli.doctor import load_settings, run_checks, scrub
from jiwa.cli.doctor_checks import Check, cloud_run_job, graph_version, instagram, ok
from jiwa.settings import Settings

LOCAL = {"GOOGLE_CLOUD_PROJECT": "p", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1"}
INSTAGRAM = {"INSTAGRAM_APP_ID": "123", "INSTAGRAM_APP_SECRET": "s3cret-app",
             "INSTAGRAM_REDIRECT_URI": "https://example.com/oauth"}


def test_a_check_that_raises_or_hangs_fails_alone_and_is_scrubbed() -> None:
    release = threading.Event()

    def boom() -> Check:
        raise RuntimeError("refused key sk-live-123456 at https://x")

    def hang() -> Check:
        release.wait(30)
        return ok("hang", "late")

    started = time.monotonic()
    results = run_checks([("first", lambda: ok("first", "fine")), ("boom", boom),
                          ("hang", hang), ("last", lambda: ok("last", "fine too"))],
                         timeout=0.2, secrets=["sk-live-123456", ""], grace=0.2)
    release.set()
    assert time.monotonic() - started < 5
    assert [(r.name, r.status) for r in results] == [
        ("first", "ok"), ("boom", "FAIL"), ("hang", "FAIL"), ("last", "ok")]
    assert results[1].reason == "RuntimeError: refused key *** at https://x"
    assert results[1].fix
    assert results[2].reason.startswith("no answer within")


def test_scrub_hides_every_secret_and_keeps_lines_short() -> None:
    assert scrub("a token abcd-efgh and abcd", ["abcd-efgh", "abcd"]) == "a token *** and ***"
    assert scrub("x\n  y", []) == "x y"
    assert len(scrub("z" * 1000, [])) == 240
    assert scrub("short ab", ["ab"]) == "short ab"  # too short to be a real secret


def test_instagram_needs_its_settings_and_https_in_production() -> None:
    assert instagram(Settings.from_env({**LOCAL, **INSTAGRAM})).status == "ok"
    missing = instagram(Settings.from_env({**INSTAGRAM, "INSTAGRAM_REDIRECT_URI": ""}))
    assert missing.failed and missing.reason == "INSTAGRAM_REDIRECT_URI not set"
    plain = {**INSTAGRAM, "INSTAGRAM_REDIRECT_URI": "http://example.com/oauth"}
    production = instagram(Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", **plain}))
    assert production.failed and "not https" in production.reason
    assert instagram(Settings.from_env({**LOCAL, **plain})).status == "ok"  # a local stack
    assert "s3cret-app" not in repr(instagram(Settings.from_env({**LOCAL, **INSTAGRAM})))


def test_graph_version_fails_when_unknown_expired_or_expiring_within_60_days() -> None:
    def check(version: str, today: date) -> Check:
        return graph_version(Settings.from_env({"META_GRAPH_VERSION": version}), today)

    assert check("v26.0", date(2026, 11, 28)).status == "ok"
    assert check("v21.0", date(2026, 11, 1)).status == "ok"  # 81 days left
    soon = check("v21.0", date(2026, 12, 1))
    assert soon.failed and "expires on 2027-01-21 (in 51 days)" in soon.reason
    assert "expired on 2027-01-21" in check("v21.0", date(2027, 1, 21)).reason
    unknown = check("v99.0", date(2026, 11, 28))
    assert unknown.failed and "META_GRAPH_VERSION" in unknown.fix


def test_cloud_run_job_is_skipped_when_jobs_run_locally() -> None:
    skipped = cloud_run_job(Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p"}), 1)
    assert skipped.status == "skip" and not skipped.failed


def test_a_refused_variable_is_a_failed_line_and_the_checks_still_run() -> None:
    settings, refused = load_settings({"GOOGLE_CLOUD_PROJECT": "p", "FAL_KEY": "fal-key",
                                       "JIWA_IMAGE_COUNT": "six",
                                       "OAUTH_STATE_SECRET": "too-short-x"})
    assert settings is not None and settings.fal_key == "fal-key"
    assert {c.name for c in refused} == {"setting JIWA_IMAGE_COUNT",
                                         "setting OAUTH_STATE_SECRET"}
    assert all(c.failed and c.fix for c in refused)
    assert "too-short-x" not in repr(refused)
