"""Claude's answers in full: cut off at max_tokens, refused, or for a model that is gone."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import anthropic
import httpx
import pytest
from pydantic import BaseModel

from jiwa.ai import Claude
from jiwa.failures import WaveFailedError


class Answer(BaseModel):
    word: str


def _message(stop: str, text: str) -> Any:
    return SimpleNamespace(stop_reason=stop, content=[SimpleNamespace(type="text", text=text)])


class _Scripted:
    """Answers each call with the next scripted answer; records the budgets asked for."""

    def __init__(self, *answers: Any) -> None:
        self.answers, self.requests = list(answers), []

    async def create(self, **request: Any) -> Any:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _ask(messages: _Scripted, **kwargs: Any) -> Answer:
    claude = Claude(lambda: SimpleNamespace(messages=messages),  # type: ignore[arg-type,return-value]
                    {"ANTHROPIC_MODEL": "claude-a", "ANTHROPIC_SCORE_MODEL": "claude-b"})
    return asyncio.run(claude.structured(Answer, system="s", max_tokens=100,
                                         content=[{"type": "text", "text": "q"}], **kwargs))


def test_a_cut_off_answer_is_asked_again_once_with_the_larger_budget() -> None:
    messages = _Scripted(_message("max_tokens", '{"wo'), _message("end_turn", '{"word": "ok"}'))
    assert _ask(messages, retry_max_tokens=900).word == "ok"
    assert [r["max_tokens"] for r in messages.requests] == [100, 900]


def test_an_answer_cut_off_twice_fails_with_its_own_reason() -> None:
    messages = _Scripted(_message("max_tokens", "{"), _message("max_tokens", "{"))
    with pytest.raises(WaveFailedError) as failed:
        _ask(messages)
    assert failed.value.code == "claude_cut_off"
    assert [r["max_tokens"] for r in messages.requests] == [100, 400]  # default retry: 4x


def test_a_refusal_fails_at_once_with_its_own_reason() -> None:
    messages = _Scripted(_message("refusal", ""))
    with pytest.raises(WaveFailedError) as failed:
        _ask(messages)
    assert failed.value.code == "claude_refused"
    assert len(messages.requests) == 1
    assert "declined" in failed.value.reason_en


def _status_error(cls: type[anthropic.APIStatusError], status: int) -> Exception:
    request = httpx.Request("POST", "https://api.anthropic.com/v1/messages")
    response = httpx.Response(status, request=request,
                              json={"type": "error", "error": {"type": "x", "message": "m"}})
    return cls("m", response=response, body=None)


def test_a_retired_model_names_the_setting_to_change_and_is_not_called_busy() -> None:
    messages = _Scripted(_status_error(anthropic.NotFoundError, 404))
    with pytest.raises(WaveFailedError) as failed:
        _ask(messages, model="claude-b")
    assert failed.value.code == "claude_model_unavailable"
    assert "ANTHROPIC_SCORE_MODEL" in failed.value.detail
    assert "ANTHROPIC_MODEL " not in failed.value.detail
    assert "busy" not in failed.value.reason_en


def test_an_overloaded_service_is_busy() -> None:
    messages = _Scripted(_status_error(anthropic.InternalServerError, 529))
    with pytest.raises(WaveFailedError) as failed:
        _ask(messages)
    assert failed.value.code == "claude_unavailable"


def test_an_answer_that_does_not_fit_the_schema_is_invalid() -> None:
    with pytest.raises(WaveFailedError) as failed:
        _ask(_Scripted(_message("end_turn", '{"other": 1}')))
    assert failed.value.code == "claude_invalid"
