"""The real nine waves, through the real SDKs, against the stand-ins."""

from __future__ import annotations

from harness import Harness, new_phone, wait_for

from jiwa.commerce_dates import planning_window

N = 6


def _is_preview(text: str) -> bool:
    return text.startswith("[image] Image ")


def test_onboarding_conversation_and_business_document(harness: Harness, real) -> None:
    phone = new_phone()
    job_id = real(phone)
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=90)
    assert job.status == "COMPLETED", job.error
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("All 6") and t,
                     30, "the final message")
    assert texts[1] == "Instagram @kopisenja.id connected! We're on it…"
    assert texts[2] == "Learning about your business…"
    assert texts[3] == "Analyzing your brand…"
    assert texts[4].startswith("Brand analysis\nKopi Senja is a warm")
    assert texts[5] == "Preparing your products…"
    assert texts[6].startswith("Featured products\n• Kopi Susu Gula Aren")
    assert texts[7].startswith("Calendar ready!\n6 posts over two weeks")
    images = texts[8:-1]
    assert sorted(t for t in images if t.startswith("Creating")) == \
        sorted(f"Creating image {i} of {N}…" for i in range(1, N + 1))
    previews = [t for t in images if _is_preview(t)]
    assert len(previews) == N and len(images) == 2 * N
    # the calendar starts the day after the job began, in Asia/Jakarta (jiwa.commerce_dates)
    first, _ = planning_window(harness.store.require(job_id).created_at)
    assert texts[-1].startswith(f"All 6 images ready!\nYour content calendar:\n{first}")
    business = harness.store.business(harness.store.require(job_id).business_id or "")
    assert business is not None
    assert business["brand"]["colors"] and business["products"]
    assert len(business["influencers"]) == 3 and business["influencers"][0]["name"] == "Rara"
    assert len(business["calendar"]["posts"]) == N
    assert [i["index"] for i in business["images"]] == list(range(1, N + 1))
    assert all(i["passed"] and i["score"] >= 7 for i in business["images"])


def test_what_is_sent_to_claude_and_fal(harness: Harness, real) -> None:
    harness.http.post(harness.state.url("anthropic") + "/_standin/reset")
    harness.http.post(harness.state.url("fal") + "/_standin/reset")
    phone = new_phone()
    harness.wait_status(real(phone), "COMPLETED", timeout=90)
    claude = harness.http.get(harness.state.url("anthropic") + "/_standin/requests").json()
    schemas = [r["output_config"]["format"]["schema"] for r in claude]
    assert [s["title"] for s in schemas[:3]] == ["BrandProfile", "ProductList", "ContentCalendar"]
    assert [s["title"] for s in schemas[3:]] == ["ImageScore"] * N
    assert all("tool_choice" not in r and "tools" not in r for r in claude)
    brand = claude[0]
    assert brand["model"] == "claude-sonnet-5-5" and brand["max_tokens"] == 4096
    assert {r["model"] for r in claude[3:]} == {"claude-haiku-5-5"}
    assert schemas[0]["required"] == \
        ["voice", "audience", "values", "visual_style", "colors", "summary"]
    assert schemas[0]["additionalProperties"] is False
    prompt = brand["messages"][0]["content"][0]["text"]
    assert "Business name: Kopi Senja" in prompt and "Website title: Kopi Senja" in prompt
    assert "Kopi susu gula aren andalan kami" in prompt
    score = claude[3]["messages"][0]["content"]
    # the brand first, marked for the prompt cache (#17), then the image
    assert score[0]["type"] == "text" and score[0].get("cache_control") == {
        "type": "ephemeral"}
    [image] = [block for block in score if block["type"] == "image"]
    # our downloaded copy, as base64: scoring never reads fal's CDN (issue #18)
    assert image["source"]["type"] == "base64"
    assert image["source"]["media_type"] in ("image/png", "image/jpeg")
    fal = harness.http.get(harness.state.url("fal") + "/_standin/requests").json()
    assert len(fal) == N and {r["model"] for r in fal} == {"fal-ai/flux/schnell"}
    args = fal[0]["arguments"]
    assert args["image_size"] == "square_hd" and args["num_images"] == 1
    assert "Style: golden-hour photography" in args["prompt"]


def test_low_scores_are_regenerated(harness: Harness, real) -> None:
    harness.http.post(harness.state.url("anthropic") + "/_standin/faults",
                      json={"low_scores": 2})
    phone = new_phone()
    job_id = real(phone)
    harness.wait_status(job_id, "COMPLETED", timeout=90)
    images = harness.store.business(harness.store.require(job_id).business_id or "")["images"]
    assert sum(i["attempts"] for i in images) == N + 2
    assert all(i["passed"] for i in images)


def test_the_first_image_starts_while_the_calendar_is_still_being_written(
        harness: Harness, real) -> None:
    anthropic, fal = harness.state.url("anthropic"), harness.state.url("fal")
    harness.http.post(anthropic + "/_standin/reset")
    harness.http.post(fal + "/_standin/reset")
    # A calendar that takes 3 s to write (a quarter of it before the first token): long
    # enough that its end cannot be mistaken for its first post.
    harness.http.post(anthropic + "/_standin/faults",
                      json={"latency_ms_by_schema": {"ContentCalendar": 3000}})
    phone = new_phone()
    job_id = real(phone)
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=90)
    assert job.status == "COMPLETED", job.error
    timings = harness.http.get(anthropic + "/_standin/timings").json()
    calendar = next(t for t in timings if t["task"] == "ContentCalendar")
    assert calendar["stream"] is True
    submitted = sorted(harness.http.get(fal + "/_standin/requests").json(),
                       key=lambda r: r["submitted"])
    # the stand-ins' own clocks, one machine: an ordering, not a duration
    assert calendar["first_token"] < submitted[0]["submitted"] < calendar["finished"]
    prompts = harness.store.checkpoints(job_id)[7]["prompts"]
    assert submitted[0]["arguments"]["prompt"] == prompts[0]["prompt"]  # post 1's image
    # … and the user hears of it in order: the calendar's summary, then the images, then
    # the whole calendar
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("All 6") and t,
                     30, "the final message")
    summary = next(i for i, t in enumerate(texts) if t.startswith("Calendar ready!"))
    assert all(i > summary for i, t in enumerate(texts) if t.startswith(("Creating", "[image]")))
    posts = harness.store.checkpoints(job_id)[6]["posts"]
    assert texts[-1].endswith("\n".join(f"{p['date']} · {p['product']}" for p in posts))
