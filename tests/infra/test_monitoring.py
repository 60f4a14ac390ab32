"""infra/monitoring.tf watches what the code really logs: every jsonPayload field a metric
reads is one the log formatter writes, every outcome it counts is one the code emits, and
every alert the operator needs exists and reaches the notification channels."""

from __future__ import annotations

import re

from test_infra import RES, ROOT, TF

from jiwa.logs import _CONTEXT_FIELDS

METRICS = RES["google_logging_metric"]
POLICIES = RES["google_monitoring_alert_policy"]
WRITTEN = set(_CONTEXT_FIELDS.values()) | {"message", "severity", "logger", "error"}
CODE = "\n".join(p.read_text() for p in (ROOT / "shared" / "jiwa").rglob("*.py"))


def _filters(metric: dict[str, object]) -> str:
    return " ".join(str(metric.get(k, "")) for k in ("filter", "value_extractor")) + " " + \
        " ".join(str(v) for v in dict(metric.get("label_extractors") or {}).values())  # type: ignore[call-overload]


def test_metrics_read_only_fields_the_formatter_writes() -> None:
    for name, metric in METRICS.items():
        fields = set(re.findall(r"jsonPayload\.(\w+)", _filters(metric)))
        assert fields or "severity>=" in str(metric["filter"]), name
        assert fields <= WRITTEN, (name, fields - WRITTEN)


def test_every_counted_outcome_is_emitted_by_the_code() -> None:
    outcomes = set()
    for metric in METRICS.values():
        for clause in re.findall(r'jsonPayload\.outcome=\(?([^)]*?)(?:\)|$| AND)',
                                 str(metric["filter"])):
            outcomes |= set(re.findall(r'\\?"(\w+)\\?"', clause))
    assert {"completed", "failed", "dead_lettered", "whatsapp_failed"} <= outcomes
    for outcome in outcomes:
        assert f'"outcome": "{outcome}"' in CODE, outcome


def test_the_operator_is_alerted_on_what_issue_21_names() -> None:
    watched = {name: " ".join(str(c["condition_threshold"][0]["filter"]) for c in p["conditions"])
               for name, p in POLICIES.items()}
    metric_of = {name: f"logging.googleapis.com/user/${{google_logging_metric.{name}.name}}"
                 for name in METRICS}
    assert metric_of["dead_lettered"] in watched["dead_letters"]
    assert "-dead-letter-sub" in watched["dead_letters"]  # the subscriptions' backstop too
    assert metric_of["job_outcomes"] in watched["job_failure_rate"]
    assert metric_of["sweeper_errors"] in watched["sweeper_errors"]
    assert metric_of["admission_queue_length"] in watched["admission_line"]
    assert metric_of["admission_oldest_wait"] in watched["admission_line"]
    assert metric_of["whatsapp_failures"] in watched["whatsapp_failures"]
    for name, policy in POLICIES.items():
        assert policy["notification_channels"] == "${local.alert_channels}", name
        assert policy["documentation"][0]["content"], name


def test_the_failure_rate_is_a_ratio_and_codes_stay_apart() -> None:
    rate = POLICIES["job_failure_rate"]["conditions"][0]["condition_threshold"][0]
    assert 'outcome=\\"failed\\"' in rate["filter"]
    assert "labels.outcome" not in rate["denominator_filter"]
    assert rate["threshold_value"] == "${var.alert_job_failure_ratio}"
    whatsapp = POLICIES["whatsapp_failures"]["conditions"][0]["condition_threshold"][0]
    assert whatsapp["aggregations"][0]["group_by_fields"] == ["metric.labels.code"]
    assert METRICS["whatsapp_failures"]["label_extractors"]["code"] == \
        "EXTRACT(jsonPayload.code)"


def test_a_notification_channel_can_be_given() -> None:
    variables = TF["variable"]
    assert variables["alert_email"]["default"] == ""
    assert variables["alert_notification_channels"]["default"] == []
    assert RES["google_monitoring_notification_channel"]["email"]["count"] == \
        '${var.alert_email == "" ? 0 : 1}'
