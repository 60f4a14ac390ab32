"""Our copy of each kept image (issue #18), on the local stack: the storage emulator holds
it, the business record names it, the quality gate scored it, WhatsApp got it by media id;
and with fal's files gone, a replay to the notifier still delivers every preview."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import Harness, new_phone, wait_for

from integration.test_cli import jiwa_json
from jiwa.image_store import ImageStore

N = 6


def _previews(h: Harness, phone: str) -> list[dict[str, Any]]:
    return [m["body"]["image"] for m in h.conversation(phone) if m["type"] == "image"]


def _uploaded(h: Harness, media_id: str) -> bytes:
    response = h.http.get(f"{h.state.url('meta')}/_standin/uploads/{media_id}")
    response.raise_for_status()
    return response.content


def test_kept_images_are_ours_and_outlive_fal(harness: Harness, real: Callable[..., str],
                                              monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    phone = new_phone()
    job_id = real(phone)
    texts = harness.final_texts(job_id, phone, ("All 6", "Sorry"), timeout=90)
    assert not any(t.startswith("Sorry") for t in texts), texts
    job = harness.store.require(job_id)
    images = (harness.store.business(job.business_id or "") or {})["images"]
    assert len(images) == N

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", harness.env["STORAGE_EMULATOR_HOST"])
    ours = ImageStore.connect(harness.env["JIWA_IMAGE_BUCKET"], harness.state.project)
    stored = {}
    for image in images:
        assert image["object"] == (f"businesses/{job.business_id}/jobs/{job_id}/"
                                   f"image-{image['index']}-{image['post']}.jpg")
        data = ours.get(image["object"])
        assert (len(data), hashlib.sha256(data).hexdigest(), image["content_type"]) == (
            image["size"], image["sha256"], "image/jpeg")
        stored[hashlib.sha256(data).hexdigest()] = data

    # the gate scored the downloaded copy, never fal's URL
    requests = harness.http.get(harness.state.url("anthropic") + "/_standin/requests").json()
    scored = [c["source"] for r in requests for m in r["messages"]
              if isinstance(m["content"], list) for c in m["content"] if c["type"] == "image"]
    assert scored and all(s["type"] == "base64" for s in scored)

    # WhatsApp received our bytes by media id, one preview per kept image
    previews = wait_for(lambda: len(p := _previews(harness, phone)) == N and p, 30)
    assert all("link" not in p for p in previews)
    assert {hashlib.sha256(_uploaded(harness, p["id"])).hexdigest()
            for p in previews} == set(stored)

    # fal forgets every file; a replay of the previews still delivers each from our copy
    harness.http.post(harness.state.url("fal") + "/_standin/forget").raise_for_status()
    assert harness.http.get(images[0]["url"]).status_code == 404
    # previews stream, so the earliest by time (events come sorted by step)
    first = min(e["created_at"] for e in harness.store.events(job_id)
                if e["kind"] == "image_ready")
    result = jiwa_json(harness, "replay", "--job", job_id, "--since", str(first), "--to",
                       "notifier", "--force")
    assert result["republished"] >= N
    again = wait_for(lambda: len(p := _previews(harness, phone)) == 2 * N and p[N:], 60)
    assert {hashlib.sha256(_uploaded(harness, p["id"])).hexdigest()
            for p in again} == set(stored)

    # the operator sees where each kept image lives
    shown = jiwa_json(harness, "jobs", "show", job_id)["images"]
    assert [(i["index"], i["object"], i["sha256"]) for i in shown] == sorted(
        (i["index"], i["object"], i["sha256"]) for i in images)
    saved = jiwa_json(harness, "images", "get", "--job", job_id, "--to", str(tmp_path / "out"))
    assert sorted(hashlib.sha256(Path(r["path"]).read_bytes()).hexdigest() for r in saved) == \
        sorted(i["sha256"] for i in images)
