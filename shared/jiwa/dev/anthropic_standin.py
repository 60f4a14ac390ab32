"""Local stand-in for Anthropic's Messages and Models APIs (a development tool).

Answers `POST /v1/messages` deterministically from the request, the way the real API
answers what we send (sources in the comments):
- structured outputs (`output_config.format` = `{"type": "json_schema", "schema"}`): the
  answer is one text block holding JSON that fits the schema; the schema's `title` says
  which of our tasks it is (BrandProfile, ProductList, ContentCalendar, ImageScore);
- the answer is built from what the prompt gives, as the model's would be: the products
  and prices it lists (`- product: NAME | price Rp25.000`, kept in the business's format),
  the language it asks for, the planning window and the dates that matter in it (a post
  is moved onto each, e.g. Harbolnas 12.12);
- `max_tokens` is honoured: an answer longer than the budget (thinking included) is cut
  off mid-JSON with `stop_reason: "max_tokens"`;
- an unknown or retired model answers 404 `not_found_error`; a forced `tool_choice` on a
  model that rejects it answers 400 `invalid_request_error`.
- `usage` is what the API reports: uncached input, cache writes and reads (prompt caching
  with `cache_control`, jiwa/dev/anthropic_cache.py) and output tokens.
- `"stream": true` answers with server-sent events (jiwa/dev/anthropic_sse.py), the
  call's latency spread over them: `first_token_share` of it before the first token.
`GET /v1/models/{id}` is the Models API's retrieve. Records every request
(`GET /_standin/requests`) and when it came, sent its first token and ended
(`GET /_standin/timings`, in seconds of the machine's monotonic clock: one clock for
every process on the machine, and never stepped back as NTP may step the wall clock).
Faults: `{"latency_ms", "latency_ms_by_schema": {"ImageScore": 1000},
"first_token_share": 0.25, "calendar_variants": [{"suffix": " v2", "times": n}]
(each calendar answer takes the head's suffix onto every caption: a retried job's
calendar that differs from the first), "fail": [{"status": 429|529|500, "times": n}],
"fail_always": 500, "low_scores": n,
"thinking_tokens": t (each answer first spends t output tokens thinking), "cut_off": n
(the next n answers end at max_tokens), "refuse": n (the next n answers are refusals),
"retired_models": [id] (answer 404 for these, as on the day they retire)}`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import re
import secrets
import threading
import time
import typing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from jiwa.dev import anthropic_limits, anthropic_sse
from jiwa.dev.anthropic_cache import (
    CHARS_PER_TOKEN,
    ImageUnreadableError,
    PromptCache,
    TooManyBreakpointsError,
    prompt_blocks,
)
from jiwa.dev.faults import FaultPlan, add_control_routes
from jiwa.image_store import CLAUDE_MAX_BASE64
from jiwa.lifecycle import claude_model

ERRORS = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error",
          400: "invalid_request_error"}

# Anthropic's Sonnet 5.5 migration guide: "forced tool choice" is one of the settings that
# return a 400 on that model.
REJECTS_FORCED_TOOL = {"claude-sonnet-5-5"}



def known_models() -> set[str]:
    """The model ids the installed SDK lists (`anthropic.types.Model`), less those past the
    end of life in its deprecation table: the models the real API still serves."""
    return {m for m in sdk_model_ids() if not claude_model(m).retired(date.today())}


def sdk_model_ids() -> set[str]:
    """Every id in the installed SDK's `anthropic.types.Model`, read from its file as
    jiwa.lifecycle reads the SDK's deprecation table: importing the SDK for them cost the
    stand-ins process 2 s of CPU at every stack start, most of its start."""
    package = importlib.util.find_spec("anthropic")  # finds, does not import
    path = (Path(package.submodule_search_locations[0]) / "types" / "model.py"
            if package is not None and package.submodule_search_locations else None)
    if path is not None and path.exists():
        for node in ast.parse(path.read_text()).body:
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and node.target.id == "Model" and node.value is not None):
                return {c.value for c in ast.walk(node.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    from anthropic.types import model as model_module  # a layout we do not know: import

    return {a for arm in typing.get_args(model_module.Model) for a in typing.get_args(arm)
            if isinstance(a, str)}


def _prompt_text(body: dict[str, Any]) -> str:
    system = body.get("system", "")
    parts = [system if isinstance(system, str)
             else "\n".join(b.get("text", "") for b in system)]
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        else:
            parts.extend(c.get("text", "") for c in content or [] if c.get("type") == "text")
    return "\n".join(parts)


def _name(text: str) -> str:
    match = re.search(r"Business name: (.+)", text)
    return match.group(1).strip() if match else "the business"


def _products(text: str) -> list[str]:
    found = re.findall(r"- product: ([^\n|]+)", text)
    return [p.strip() for p in found] or ["Signature product"]


def _prices(text: str) -> dict[str, str]:
    """Each product's price as the prompt gives it (`- product: NAME | price Rp25.000`):
    the stand-in answers with the business's own products and prices, in its own format,
    so a regression in reading or prompting shows in the demo and in tests."""
    return {name.strip(): price.strip() for name, price in
            re.findall(r"- product: ([^\n|]+)\| price ([^\n|]+)", text)}


def _indonesian(text: str) -> bool:
    return bool(re.search(r"\bin Indonesian\.", text))


def _calendar_days(text: str, count: int) -> list[tuple[date, str]]:
    """The post dates: every other day from the window the prompt gives (a fixed start
    without one), one moved onto each date that matters there (`- date: D | NAME`), as
    a planner would; each with the name of its occasion ("" for none)."""
    window = re.search(r"from (\d{4}-\d\d-\d\d) to (\d{4}-\d\d-\d\d)", text)
    start = date.fromisoformat(window.group(1)) if window else date(2026, 12, 1)
    days = [(start + timedelta(days=2 * i), "") for i in range(count)]
    moments = [(date.fromisoformat(d), n.strip()) for d, n in
               re.findall(r"- date: (\d{4}-\d\d-\d\d) \| ([^\n]+)", text)]
    # sales and holidays before paydays; one occasion per post
    for day, occasion in sorted(moments, key=lambda m: "Gajian" in m[1] or "Payday" in m[1]):
        free = [i for i, (_, named) in enumerate(days) if not named]
        if not free:
            break
        nearest = min(free, key=lambda i: abs((days[i][0] - day).days))
        days[nearest] = (day, occasion)
    return sorted(days)


def answer(task: str, text: str, plan: FaultPlan) -> dict[str, Any]:
    """The JSON our schema `task` (its title) asks for, built from words in the prompt."""
    name = _name(text)
    indonesian = _indonesian(text)
    if task == "BrandProfile":
        summary = (f"{name} adalah brand yang hangat dan dekat dengan komunitasnya. "
                   f"Pembelinya anak muda perkotaan yang menghargai karya lokal."
                   if indonesian else
                   f"{name} is a warm, community-minded brand. Its audience is young "
                   f"urban professionals who value local craft.")
        return {"voice": "warm, local and playful", "audience": "young urban professionals",
                "values": ["local sourcing", "craft", "community"],
                "visual_style": "golden-hour photography, warm tones, natural textures",
                "colors": ["#6F4E37", "#F4E1C1", "#D98E04"], "summary": summary}
    if task == "ProductList":
        items, prices = _products(text)[:4], _prices(text)
        return {"products": [{"name": p, "description": f"{p} from {name}",
                              "price": prices.get(p, "")} for p in items]}
    if task == "ContentCalendar":
        asked = re.search(r"exactly (\d+) posts", text)
        count = int(asked.group(1)) if asked else 6
        # the products the task names, not every product the business context lists
        products, prices = _products(text.rsplit("Products to feature:", 1)[-1]), _prices(text)
        personas = re.findall(r"- persona: ([^\n|]+)", text) or ["x"]
        variant = str((plan.next_fault("calendar_variants") or {}).get("suffix", ""))
        posts = []
        for i, (day, occasion) in enumerate(_calendar_days(text, count)):
            product = products[i % len(products)].strip()
            offer = f"{product} {prices[product]}" if product in prices else product
            lead = f"{occasion}: " if occasion else ""
            caption = (f"{lead}{offer} dari {name}. Yuk mampir!" if indonesian
                       else f"{lead}{offer} from {name}. Come by!")
            caption += variant
            posts.append({"date": day.isoformat(),
                          "pillar": ["product", "behind the scenes", "community"][i % 3],
                          "caption": caption, "hashtags": ["#umkm", "#lokal"],
                          "influencer": personas[i % len(personas)].strip(),
                          "product": product})
        named = [(p["date"], o) for p, (_, o) in zip(posts, _calendar_days(text, count),
                                                      strict=True) if o]
        summary = (f"{count} posting selama dua minggu: foto produk, di balik layar dan "
                   f"komunitas." if indonesian else
                   f"{count} posts over two weeks, mixing product shots, behind the scenes "
                   f"and community.")
        if named:
            summary += (" Tanggal penting: " if indonesian else " Dates that matter: ") \
                + "; ".join(f"{d} {o}" for d, o in named) + "."
        return {"posts": posts, "summary": summary[:600]}
    if task == "ImageScore":
        low = plan.take("low_scores")
        digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
        score = 3 if low else 7 + digest % 3
        return {"score": score, "brand_fit": score, "prompt_fit": score,
                "issues": ["off-brand colours"] if low else []}
    return {}


def _task(body: dict[str, Any]) -> str:
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        return str((fmt.get("schema") or {}).get("title", ""))
    return ""


def create_app(plan: FaultPlan | None = None) -> Flask:
    faults = plan or FaultPlan()
    recorded: list[dict[str, Any]] = []
    timings: list[dict[str, Any]] = []
    lock = threading.Lock()
    cache = PromptCache()
    models = known_models()
    app = Flask("anthropic_standin")
    anthropic_limits.install(app, faults, cache)  # RPM and ITPM quotas, off unless set

    def authenticated() -> bool:
        return bool(request.headers.get("x-api-key") or request.headers.get("authorization"))

    @app.get("/v1/models/<path:model_id>")
    def retrieve_model(model_id: str) -> Any:
        # Models API: GET /v1/models/{model_id} -> ModelInfo, or 404 not_found_error.
        if not authenticated():
            return _error(401, "authentication_error", "x-api-key header is required")
        if model_id not in models or model_id in (faults.get("retired_models") or []):
            return _error(404, "not_found_error", f"model: {model_id}")
        return jsonify({"type": "model", "id": model_id, "display_name": model_id,
                        "created_at": "2026-01-01T00:00:00Z"})

    @app.post("/v1/messages")
    def messages() -> Any:
        if not authenticated():
            return _error(401, "authentication_error", "x-api-key header is required")
        body = request.get_json(force=True)
        timing: dict[str, Any] = {"task": _task(body), "stream": bool(body.get("stream")),
                                  "received": time.monotonic()}
        with lock:
            recorded.append(body)
            timings.append(timing)
        model = str(body.get("model", ""))
        if model not in models or model in (faults.get("retired_models") or []):
            return _error(404, "not_found_error", f"model: {model}")
        choice = body.get("tool_choice") or {}
        if choice.get("type") in ("tool", "any") and model in REJECTS_FORCED_TOOL:
            return _error(400, "invalid_request_error",
                          f"tool_choice forcing tool use is not supported for {model}")
        oversized = _oversized_image(body)
        if oversized:  # the API's 5 MB per image, on the base64 text (jiwa.image_store)
            return _error(400, "invalid_request_error",
                          f"messages.0.content.0.image.source.base64: image exceeds 5 MB "
                          f"maximum: {oversized} bytes > {CLAUDE_MAX_BASE64} bytes")
        task = _task(body)
        by_schema = faults.get("latency_ms_by_schema") or {}
        latency_s = float(by_schema.get(task, faults.get("latency_ms", 0)) or 0) / 1000
        if not body.get("stream"):  # a streamed answer spends its latency as it goes
            time.sleep(latency_s)
        status = faults.next_failure()
        if status:
            return _error(status, ERRORS.get(status, "api_error"), "Injected failure")
        try:
            usage = cache.usage(model, body)
        except (TooManyBreakpointsError, ImageUnreadableError) as exc:
            return _error(400, "invalid_request_error", str(exc))
        text = _prompt_text(body)

        def reply(content: str | None, stop: str, output_tokens: int) -> Any:
            if not body.get("stream"):
                timing["finished"] = time.monotonic()
                return _message(model, [] if content is None else
                                [{"type": "text", "text": content}], stop, usage,
                                output_tokens)

            def finished(first_token: float, end: float) -> None:
                timing.update(first_token=first_token, finished=end)

            share = float(faults.get("first_token_share", anthropic_sse.FIRST_TOKEN_SHARE))
            return Response(anthropic_sse.stream(model, content or "", stop, usage,
                                                 output_tokens, latency_s, share, finished),
                            mimetype="text/event-stream",
                            headers={"Cache-Control": "no-cache"})

        if faults.take("refuse"):
            # A refusal: stop_reason "refusal", and no usable answer.
            return reply(None, "refusal", 0)
        output = json.dumps(answer(task, text, faults), ensure_ascii=False) if task else "OK"
        thinking = int(faults.get("thinking_tokens", 0) or 0)
        budget = int(body.get("max_tokens", 0)) - thinking
        needed = -(-len(output) // CHARS_PER_TOKEN)
        if faults.take("cut_off") or needed > budget:
            kept = max(budget, 0) * CHARS_PER_TOKEN if needed > budget else len(output) // 2
            return reply(output[:kept], "max_tokens", int(body.get("max_tokens", 0)))
        return reply(output, "end_turn", thinking + needed)

    @app.get("/_standin/requests")
    def requests_seen() -> Any:
        with lock:
            return jsonify(recorded)

    @app.get("/_standin/timings")
    def timings_seen() -> Any:
        with lock:
            return jsonify(timings)

    def clear() -> None:
        with lock:
            recorded.clear()
            timings.clear()
        cache.clear()

    add_control_routes(app, faults, clear)

    return app


def _message(model: str, content: list[dict[str, Any]], stop: str, usage: dict[str, int],
             output_tokens: int) -> Any:
    return jsonify({"id": "msg_" + secrets.token_hex(8), "type": "message",
                    "role": "assistant", "model": model, "content": content,
                    "stop_reason": stop, "stop_sequence": None,
                    "usage": {**usage, "output_tokens": output_tokens}})


def _oversized_image(body: dict[str, Any]) -> int:
    """The base64 length of the first image over Claude's limit, or 0."""
    for block in prompt_blocks(body):
        source = block.get("source") or {} if block.get("type") == "image" else {}
        data = source.get("data") if source.get("type") == "base64" else None
        if isinstance(data, str) and len(data) > CLAUDE_MAX_BASE64:
            return len(data)
    return 0


def _error(status: int, kind: str, message: str) -> Any:
    response = jsonify({"type": "error", "error": {"type": kind, "message": message}})
    response.status_code = status
    if status == 429:  # an injected one: whole seconds, at least 1, as the quotas' are
        response.headers["retry-after"] = "1"  # (jiwa.dev.anthropic_limits.retry_after)
    return response
