"""Tokens, app secrets, keys and full phone numbers never reach our logs."""

from __future__ import annotations

import json
from pathlib import Path

from harness import Harness, new_phone, wait_for
from integration.test_end_to_end import onboard

SECRET_VARS = ["WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
               "INSTAGRAM_APP_SECRET", "OAUTH_STATE_SECRET", "TOKEN_ENCRYPTION_KEY",
               "ANTHROPIC_API_KEY", "FAL_KEY"]
OUR_PROCESSES = ["whatsapp_webhook", "instagram_oauth", "dispatcher", "notifier"]


def test_an_onboarding_logs_no_secret_and_no_full_phone(harness: Harness) -> None:
    phone = new_phone()
    harness.control(phone, pipeline="real")
    job_id = onboard(harness, phone)
    harness.wait_status(job_id, "COMPLETED", timeout=90)
    wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("All 6"), 30)
    harness.send_whatsapp(phone, "/status")
    log_dir = Path(harness.state.log_dir)
    logs = {name: (log_dir / f"{name}.log").read_text(errors="replace")
            for name in OUR_PROCESSES}
    forbidden = {var: harness.env[var] for var in SECRET_VARS}
    forbidden["instagram token"] = "IGlong"
    forbidden["short-lived token"] = "IGshort"
    forbidden["phone"] = phone
    for name, text in logs.items():
        for what, value in forbidden.items():
            assert value not in text, f"{what} found in {name}.log"
    job_lines = [json.loads(line) for line in logs["dispatcher"].splitlines()
                 if line.startswith("{") and job_id in line]
    assert job_lines and all(e["severity"] in {"INFO", "WARNING", "ERROR"} for e in job_lines)
    assert any(e.get("jobId") == job_id and "logging.googleapis.com/trace" in e
               for e in job_lines)
    assert phone[:4] + "*" in logs["whatsapp_webhook"]  # masked, not absent
