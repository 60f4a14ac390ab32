"""Local stand-in for Anthropic's Messages API (a development tool).

Answers `POST /v1/messages` deterministically from the request: a forced tool gets an
input that fits our tools' schemas, built from words in the prompt. Records every
request (`GET /_standin/requests`) so tests can pin what was sent. Faults:
`{"latency_ms", "latency_ms_by_tool": {"record_image_score": 1000}, "fail": [{"status":
429|529|500, "times": n}], "fail_always": 500, "low_scores": n}` (the next n image scores
are low).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from datetime import date, timedelta
from typing import Any

from flask import Flask, jsonify, request

from jiwa.dev.faults import FaultPlan, add_control_routes

ERRORS = {429: "rate_limit_error", 529: "overloaded_error", 500: "api_error",
          400: "invalid_request_error"}


def _prompt_text(body: dict[str, Any]) -> str:
    parts = [str(body.get("system", ""))]
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


def tool_input(tool: str, text: str, body: dict[str, Any], plan: FaultPlan) -> dict[str, Any]:
    name = _name(text)
    if tool == "record_brand_profile":
        return {"voice": "warm, local and playful", "audience": "young urban professionals",
                "values": ["local sourcing", "craft", "community"],
                "visual_style": "golden-hour photography, warm tones, natural textures",
                "colors": ["#6F4E37", "#F4E1C1", "#D98E04"],
                "summary": f"{name} is a warm, community-minded brand. Its audience is young "
                           f"urban professionals who value local craft."}
    if tool == "record_products":
        items = _products(text)[:4]
        return {"products": [{"name": p, "description": f"{p} from {name}",
                              "price": "Rp 25.000"} for p in items]}
    if tool == "record_content_calendar":
        asked = re.search(r"exactly (\d+) posts", text)
        count = int(asked.group(1)) if asked else 6
        start = date(2026, 12, 1)
        products, personas = _products(text), re.findall(r"- persona: ([^\n|]+)", text) or ["x"]
        posts = [{"date": (start + timedelta(days=2 * i)).isoformat(),
                  "pillar": ["product", "behind the scenes", "community"][i % 3],
                  "caption": f"Post {i + 1} for {name}: {products[i % len(products)].strip()}",
                  "hashtags": ["#umkm", "#lokal"],
                  "influencer": personas[i % len(personas)].strip(),
                  "product": products[i % len(products)].strip()} for i in range(count)]
        return {"posts": posts, "summary": f"{count} posts over two weeks, mixing product "
                                           f"shots, behind the scenes and community."}
    if tool == "record_image_score":
        low = plan.take("low_scores")
        digest = int(hashlib.sha256(text.encode()).hexdigest(), 16)
        score = 3 if low else 7 + digest % 3
        return {"score": score, "brand_fit": score, "prompt_fit": score,
                "issues": ["off-brand colours"] if low else []}
    return {}


def create_app(plan: FaultPlan | None = None) -> Flask:
    faults = plan or FaultPlan()
    recorded: list[dict[str, Any]] = []
    lock = threading.Lock()
    app = Flask("anthropic_standin")

    @app.post("/v1/messages")
    def messages() -> Any:
        if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
            return _error(401, "authentication_error", "missing key")
        body = request.get_json(force=True)
        with lock:
            recorded.append(body)
        tool = (body.get("tool_choice") or {}).get("name", "")
        by_tool = faults.get("latency_ms_by_tool") or {}
        faults.delay() if tool not in by_tool else time.sleep(by_tool[tool] / 1000)
        status = faults.next_failure()
        if status:
            return _error(status, ERRORS.get(status, "api_error"), "Injected failure")
        text = _prompt_text(body)
        choice = body.get("tool_choice") or {}
        content: list[dict[str, Any]]
        if choice.get("type") == "tool":
            content = [{"type": "tool_use", "id": "toolu_" + secrets.token_hex(8),
                        "name": choice["name"],
                        "input": tool_input(choice["name"], text, body, faults)}]
            stop = "tool_use"
        else:
            content, stop = [{"type": "text", "text": "OK"}], "end_turn"
        return jsonify({"id": "msg_" + secrets.token_hex(8), "type": "message",
                        "role": "assistant", "model": body.get("model"), "content": content,
                        "stop_reason": stop, "stop_sequence": None,
                        "usage": {"input_tokens": len(text) // 4, "output_tokens": 50}})

    @app.get("/_standin/requests")
    def requests_seen() -> Any:
        with lock:
            return jsonify(recorded)

    def clear() -> None:
        with lock:
            recorded.clear()

    add_control_routes(app, faults, clear)

    return app


def _error(status: int, kind: str, message: str) -> Any:
    response = jsonify({"type": "error", "error": {"type": kind, "message": message}})
    response.status_code = status
    if status == 429:
        response.headers["retry-after"] = "0"
    return response
