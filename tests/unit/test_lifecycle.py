"""The defaults are alive: no default model or Graph version is retired or about to be."""

from __future__ import annotations

import logging
import typing
from datetime import date

import pytest
from anthropic.types import model as sdk_model

from jiwa import lifecycle
from jiwa.job.__main__ import warn_about_retirements
from jiwa.settings import Settings

TODAY = date.today()


def _sdk_models() -> set[str]:
    return {a for arm in typing.get_args(sdk_model.Model) for a in typing.get_args(arm)
            if isinstance(a, str)}


@pytest.mark.parametrize("field", ["anthropic_model", "anthropic_score_model"])
def test_default_models_are_current_and_not_retiring_within_60_days(field: str) -> None:
    model = getattr(Settings(project="p"), field)
    assert model in _sdk_models(), f"{model} is not in the installed SDK's model list"
    state = lifecycle.claude_model(model)
    assert not state.retiring_soon(TODAY), f"{model} retires on {state.ends}"


def test_default_graph_version_is_known_and_not_expiring_within_60_days() -> None:
    version = Settings(project="p").graph_api_version
    state = lifecycle.graph_version(version)
    assert state.known and not state.retiring_soon(TODAY), state


def test_the_sdk_table_is_read_the_old_default_counts_as_retiring() -> None:
    state = lifecycle.claude_model("claude-sonnet-4-5")
    assert state.ends == date(2026, 11, 30)
    assert state.retiring_soon(date(2026, 11, 28)) and not state.retired(date(2026, 11, 28))
    assert state.retired(date(2026, 11, 30))


def test_graph_versions_expire_on_metas_dates_and_unknown_ones_are_not_served() -> None:
    assert lifecycle.graph_version_available("v21.0", date(2027, 1, 20))
    assert not lifecycle.graph_version_available("v21.0", date(2027, 1, 21))
    assert not lifecycle.graph_version_available("v99.0", TODAY)


def test_the_job_warns_at_start_naming_the_variable(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(project="p", anthropic_model="claude-sonnet-4-5",
                        graph_api_version="v21.0")
    with caplog.at_level(logging.WARNING, logger="jiwa.job"):
        lines = warn_about_retirements(settings, date(2026, 11, 28))
    assert len(lines) == 2
    assert any("ANTHROPIC_MODEL=claude-sonnet-4-5 retires on 2026-11-30" in r.getMessage()
               for r in caplog.records)
    assert any("META_GRAPH_VERSION=v21.0 expires on 2027-01-21" in r.getMessage()
               for r in caplog.records)
    assert warn_about_retirements(Settings(project="p"), TODAY) == []
