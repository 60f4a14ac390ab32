"""Local stand-in for fal.ai's queue API (a development tool), rendering real images.

`POST /{model}` submits; status, result and cancel URLs point back here; `GET
/files/{id}.{jpeg|png}` serves a picture drawn from the prompt (colours and shapes from its
hash, so different prompts give different images) at the size and in the format fal would
give (`image_size`, `output_format`: see `requested_image`). Faults: `{"latency_ms": per-image
render time, "fail": [{"status": 500, "times": n}] (results), "fail_always": 500,
"hang": n (the next n requests never finish, as a stuck generation), "quotas":
{"fal_concurrent": {"limit": n}} (at most n requests of one key IN_PROGRESS at once, the
rest wait IN_QUEUE with their queue_position, as fal does; off by default)}`.
`GET /_standin/requests` lists what was submitted, when (seconds of the machine's monotonic
clock, as the Claude stand-in's timings), the client's User-Agent, and whether it
was cancelled or queued;
`POST /_standin/forget` makes every file served so far 404, as after fal's retention.
`GET /v1/models/pricing?endpoint_id=…` is fal's Platform API pricing (what `jiwa doctor`
calls): it requires the key, $FAL_KEY of this process when set.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import threading
import time
from typing import Any

from flask import Flask, Response, jsonify, request

from jiwa.dev.faults import FaultPlan, add_control_routes

# FLUX.1 [schnell] on fal (fal.ai/models/fal-ai/flux-1/schnell/llms.txt, read 2026-11):
# `image_size` is a preset or {"width", "height"}, default "landscape_4_3"; the result's
# images are JPEG unless `output_format` asks for "png" (WIRE.md: content_type image/jpeg).
# The presets' pixel sizes are those fal's FLUX endpoints give (the same table in several
# fal clients, e.g. the fal-to-BFL size maps), square_hd being 1024 x 1024: the size Claude
# then bills for the image when it scores it (jiwa/dev/anthropic_cache.py).
IMAGE_SIZES = {"square_hd": (1024, 1024), "square": (512, 512),
               "portrait_4_3": (768, 1024), "portrait_16_9": (576, 1024),
               "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576)}
FORMATS = {"jpeg": "image/jpeg", "png": "image/png"}


def requested_image(args: dict[str, Any]) -> tuple[int, int, str]:
    """(width, height, format) of the image fal makes for these arguments; ValueError names
    the argument fal would refuse."""
    size = args.get("image_size", "landscape_4_3")
    if isinstance(size, dict):
        width, height = int(size.get("width", 0)), int(size.get("height", 0))
        if width <= 0 or height <= 0:
            raise ValueError("image_size: width and height must be positive")
    elif size in IMAGE_SIZES:
        width, height = IMAGE_SIZES[size]
    else:
        raise ValueError(f"image_size: unexpected value {size!r}")
    fmt = args.get("output_format", "jpeg")
    if fmt not in FORMATS:
        raise ValueError(f"output_format: unexpected value {fmt!r}")
    return width, height, fmt


def render(prompt: str, seed: int, width: int = 256, height: int = 256,
           fmt: str = "png") -> bytes:
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    image = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(image)
    side = min(width, height)
    for i in range(6):
        x, y = digest[3 + i] % width, digest[9 + i] % height
        r = 20 + digest[15 + i] % (side // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(digest[21 + i], digest[22 + i],
                                                         digest[23 + i]))
    draw.text((8, height - 20), prompt[:40], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG" if fmt == "png" else "JPEG", quality=90)
    return out.getvalue()


# The stand-in's price list (fal's pricing reference shows fal-ai/flux/dev at 0.025 USD per
# image; the other rows are of the same shape).
PRICES = {"fal-ai/flux/schnell": (0.003, "megapixels"), "fal-ai/flux/dev": (0.025, "image")}


def create_app(plan: FaultPlan | None = None, key: str | None = None) -> Flask:
    faults = plan or FaultPlan()
    lock = threading.Lock()
    jobs: dict[str, dict[str, Any]] = {}
    app = Flask("fal_standin")
    accepted = os.environ.get("FAL_KEY", "") if key is None else key

    @app.get("/v1/models/pricing")
    def pricing() -> Any:
        # Platform API, GET https://api.fal.ai/v1/models/pricing (docs.fal.ai/platform-apis/
        # v1/models/pricing): "Authentication: Required", `Authorization: Key <key>`;
        # answers 200 {"prices": [{endpoint_id, unit_price, unit, currency}], "next_cursor",
        # "has_more"}, 401 for a missing or wrong key, 404 for an unknown endpoint id. The
        # reference gives no error body; these are fal's queue API's (`{"detail": …}`, e.g.
        # "No user found for Key ID and Secret", github.com/fal-ai/fal/issues/1068).
        header = request.headers.get("Authorization", "")
        if not header.startswith("Key "):
            return jsonify({"detail": "Missing authorization header"}), 401
        if accepted and header.removeprefix("Key ") != accepted:
            return jsonify({"detail": "No user found for Key ID and Secret"}), 401
        wanted = [e for arg in request.args.getlist("endpoint_id") for e in arg.split(",") if e]
        if not 1 <= len(wanted) <= 50:
            return jsonify({"detail": "endpoint_id: give 1 to 50 endpoint ids"}), 400
        unknown = [e for e in wanted if e not in PRICES]
        if unknown:
            return jsonify({"detail": f"Endpoint not found: {', '.join(unknown)}"}), 404
        return jsonify({"prices": [{"endpoint_id": e, "unit_price": PRICES[e][0],
                                    "unit": PRICES[e][1], "currency": "USD"} for e in wanted],
                        "next_cursor": None, "has_more": False})

    @app.post("/<path:model>")
    def submit(model: str) -> Any:
        if model.startswith("_standin") or model.startswith("requests"):
            return jsonify({"detail": "not found"}), 404
        if not request.headers.get("Authorization", "").startswith("Key "):
            return jsonify({"detail": "missing key"}), 401
        args = request.get_json(force=True)
        request_id = secrets.token_hex(8)
        with lock:
            jobs[request_id] = {"model": model, "arguments": args, "submitted": time.monotonic(),
                                "status": faults.next_failure(), "hang": faults.take("hang"),
                                "cancelled": False, "started": None,
                                "key": request.headers["Authorization"],
                                "user_agent": request.headers.get("User-Agent", "")}
            dispatch()
        base = request.host_url.rstrip("/") + f"/requests/{request_id}"
        return jsonify({"request_id": request_id, "status_url": base + "/status",
                        "response_url": base, "cancel_url": base + "/cancel"})

    def ready(job: dict[str, Any]) -> bool:
        if job["hang"] or job["started"] is None:
            return False
        return time.monotonic() - job["started"] >= float(faults.get("latency_ms", 0)) / 1000

    def dispatch() -> None:
        """fal's concurrency limit, when the plan sets `quotas.fal_concurrent`: a key's
        requests run at most `limit` at once; the others wait IN_QUEUE, oldest first, and
        start as slots free. fal's docs (docs.fal.ai/documentation/model-apis/
        concurrency-limits): only IN_PROGRESS requests count; "When you reach your limit,
        additional requests wait in the queue and are dispatched as soon as a slot frees
        up. Requests are never rejected due to concurrency limits." A new account runs 2 at
        once, rising with credits to 40 (fal's FAQ, as quoted by wavespeed.ai's guide,
        2026-11-22). A cancelled request leaves the queue or frees its slot. Call under
        `lock`."""
        rule = (faults.get("quotas") or {}).get("fal_concurrent")
        limit = int(rule["limit"]) if rule else None
        pending = [j for j in jobs.values() if j["started"] is None and not j["cancelled"]]
        if not pending:
            return
        running: dict[str, int] = {}
        if limit is not None:
            for j in jobs.values():
                if j["started"] is not None and not j["cancelled"] and not ready(j):
                    running[j["key"]] = running.get(j["key"], 0) + 1
        now = time.monotonic()
        for job in pending:  # in the order of submission (dicts keep insertion order)
            if limit is None or running.get(job["key"], 0) < limit:
                job["started"] = now
                running[job["key"]] = running.get(job["key"], 0) + 1

    def queue_position(job: dict[str, Any]) -> int:
        return sum(1 for j in jobs.values() if j["key"] == job["key"] and j["started"] is None
                   and not j["cancelled"] and j["submitted"] < job["submitted"])

    @app.get("/requests/<request_id>/status")
    def status(request_id: str) -> Any:
        job = jobs.get(request_id)
        if job is None:
            return jsonify({"detail": "request not found"}), 404
        with lock:
            dispatch()
            if job["started"] is None:
                job["queued"] = True
                return jsonify({"status": "IN_QUEUE", "queue_position": queue_position(job)})
        if not ready(job):
            return jsonify({"status": "IN_PROGRESS", "logs": []})
        return jsonify({"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 0.4}})

    @app.get("/requests/<request_id>")
    def result(request_id: str) -> Any:
        job = jobs.get(request_id)
        if job is None:
            return jsonify({"detail": "request not found"}), 404
        if job["status"]:
            return jsonify({"detail": "Injected failure"}), job["status"]
        args = job["arguments"]
        try:
            width, height, fmt = requested_image(args)
        except ValueError as exc:
            # The queue takes any input; the model's checks refuse it when it runs, and the
            # result URL answers with the error (WIRE.md), a `detail` array of objects with
            # `loc`, `msg` and `type` (fal's "Model Errors" page). 422 and the type name
            # are the stand-in's: the page names neither for a bad image_size.
            return jsonify({"detail": [{"loc": ["body", str(exc).split(":")[0]],
                                        "msg": str(exc), "type": "value_error"}]}), 422
        seed = int(args.get("seed") or 0)
        base = request.host_url.rstrip("/")
        return jsonify({"images": [{"url": f"{base}/files/{request_id}.{fmt}", "width": width,
                                    "height": height, "content_type": FORMATS[fmt]}],
                        "timings": {"inference": 0.4}, "seed": seed,
                        "has_nsfw_concepts": [False], "prompt": args.get("prompt", "")})

    @app.put("/requests/<request_id>/cancel")
    def cancel(request_id: str) -> Any:
        with lock:
            if request_id in jobs:
                jobs[request_id]["cancelled"] = True
                dispatch()
        return jsonify({"status": "CANCELLATION_REQUESTED"}), 202

    @app.get("/files/<request_id>.<ext>")
    def file(request_id: str, ext: str) -> Any:
        job = jobs.get(request_id)
        if job is None or job.get("forgotten"):
            return jsonify({"detail": "not found"}), 404
        args = job["arguments"]
        try:
            width, height, fmt = requested_image(args)
        except ValueError:
            return jsonify({"detail": "not found"}), 404  # no image was made
        if ext != fmt:
            return jsonify({"detail": "not found"}), 404
        return Response(render(str(args.get("prompt", "")), int(args.get("seed") or 0),
                               width, height, fmt), mimetype=FORMATS[fmt])

    @app.get("/_standin/requests")
    def requests_seen() -> Any:
        with lock:
            return jsonify([{"request_id": k, "model": v["model"], "arguments": v["arguments"],
                             "cancelled": v["cancelled"], "queued": v.get("queued", False),
                             "submitted": v["submitted"], "user_agent": v["user_agent"]}
                            for k, v in jobs.items()])

    @app.post("/_standin/forget")
    def forget() -> Any:
        """fal's files outlive a request only as long as the account's retention allows
        (fal's docs, "Data retention"): from now on every file served so far is gone (404),
        while the request list stays for the tests to read."""
        with lock:
            for job in jobs.values():
                job["forgotten"] = True
            return jsonify({"forgotten": len(jobs)})

    def clear() -> None:
        with lock:
            jobs.clear()

    add_control_routes(app, faults, clear)

    return app
