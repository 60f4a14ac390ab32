"""Local stand-in for fal.ai's queue API (a development tool), rendering real PNGs.

`POST /{model}` submits; status, result and cancel URLs point back here; `GET
/files/{id}.png` serves a picture drawn from the prompt (colours and shapes from its
hash, so different prompts give different images). Faults: `{"latency_ms": per-image
render time, "fail": [{"status": 500, "times": n}] (results), "fail_always": 500,
"hang": n (the next n requests never finish, as a stuck generation)}`.
`GET /_standin/requests` lists what was submitted, and whether it was cancelled;
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


def render_png(prompt: str, seed: int, size: int = 256) -> bytes:
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    image = Image.new("RGB", (size, size), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(image)
    for i in range(6):
        x, y = digest[3 + i] % size, digest[9 + i] % size
        r = 20 + digest[15 + i] % (size // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(digest[21 + i], digest[22 + i],
                                                         digest[23 + i]))
    draw.text((8, size - 20), prompt[:40], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
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
            jobs[request_id] = {"model": model, "arguments": args, "submitted": time.time(),
                                "status": faults.next_failure(), "hang": faults.take("hang"),
                                "cancelled": False}
        base = request.host_url.rstrip("/") + f"/requests/{request_id}"
        return jsonify({"request_id": request_id, "status_url": base + "/status",
                        "response_url": base, "cancel_url": base + "/cancel"})

    def ready(job: dict[str, Any]) -> bool:
        if job["hang"]:
            return False
        return time.time() - job["submitted"] >= float(faults.get("latency_ms", 0)) / 1000

    @app.get("/requests/<request_id>/status")
    def status(request_id: str) -> Any:
        job = jobs.get(request_id)
        if job is None:
            return jsonify({"detail": "request not found"}), 404
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
        seed = int(args.get("seed") or 0)
        base = request.host_url.rstrip("/")
        return jsonify({"images": [{"url": f"{base}/files/{request_id}.png", "width": 256,
                                    "height": 256, "content_type": "image/png"}],
                        "timings": {"inference": 0.4}, "seed": seed,
                        "has_nsfw_concepts": [False], "prompt": args.get("prompt", "")})

    @app.put("/requests/<request_id>/cancel")
    def cancel(request_id: str) -> Any:
        with lock:
            if request_id in jobs:
                jobs[request_id]["cancelled"] = True
        return jsonify({"status": "CANCELLATION_REQUESTED"}), 202

    @app.get("/files/<request_id>.png")
    def file(request_id: str) -> Any:
        job = jobs.get(request_id)
        if job is None or job.get("forgotten"):
            return jsonify({"detail": "not found"}), 404
        args = job["arguments"]
        return Response(render_png(str(args.get("prompt", "")), int(args.get("seed") or 0)),
                        mimetype="image/png")

    @app.get("/_standin/requests")
    def requests_seen() -> Any:
        with lock:
            return jsonify([{"request_id": k, "model": v["model"], "arguments": v["arguments"],
                             "cancelled": v["cancelled"]} for k, v in jobs.items()])

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
