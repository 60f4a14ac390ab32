"""The job's first progress event does not wait for SDKs it does not need (#17 item 5).

Everything before the first event ("wave 1 started") runs on a cold interpreter, locally
after two of them start (the supervisor, then the job). The waves' SDKs (Claude, fal, the
HTML readers, Cloud Storage, httpx) are loaded when wave 1 runs, after that event. Checked in
a fresh interpreter: which modules are loaded once the runner is ready to start, not how
long that took (bench/start.py measures the time).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

# anthropic._data: the models' retirement check reads the SDK's table from its file
NOT_BEFORE_THE_FIRST_EVENT = ["anthropic", "anthropic._data", "fal_client", "trafilatura",
                              "lxml", "extruct", "httpx", "google.cloud.storage",
                              "jiwa.waves.website"]
SCRIPT = f"""
import json, sys
import gc
from jiwa.job.start import job_module
from jiwa.settings import Settings
runner = job_module().prepare(Settings.from_env(required=["project"]))
print(json.dumps({{"waves": [(w.number, w.name, w.announce) for w in runner._pipeline],
                  "loaded": [m for m in {NOT_BEFORE_THE_FIRST_EVENT!r} if m in sys.modules],
                  "frozen": gc.get_freeze_count(), "collecting": gc.isenabled()}}))
"""
# Nothing here connects: the Google clients are only built (emulator hosts that nobody serves).
ENV = {"GOOGLE_CLOUD_PROJECT": "demo-imports", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
       "PUBSUB_EMULATOR_HOST": "127.0.0.1:9", "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9",
       "ANTHROPIC_API_KEY": "test-key", "FAL_KEY": "test-key",
       "JIWA_IMAGE_BUCKET": "demo-imports-images", "INSTAGRAM_APP_ID": "1234",
       "INSTAGRAM_REDIRECT_URI": "http://127.0.0.1:9/oauth",
       "TOKEN_ENCRYPTION_KEY": base64.urlsafe_b64encode(bytes(32)).decode()}


def _prepare(extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", **ENV, **(extra or {})})


def test_a_ready_runner_has_not_loaded_the_waves_sdks() -> None:
    done = _prepare()
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["loaded"] == []
    # imported as the job's command imports it (jiwa.startup): what the imports made is
    # out of the collector's way, and the collector runs again for the job's own work
    assert found["frozen"] > 50_000 and found["collecting"] is True
    # The real nine waves, as before: wave 1 announces itself (that is the first event).
    assert [name for _, name, _ in found["waves"]] == [
        "profile", "website", "brand", "products", "influencers", "calendar", "prompts",
        "images", "quality"]
    assert found["waves"][0] == [1, "profile", True]


@pytest.mark.parametrize("variable", ["FAL_KEY", "INSTAGRAM_APP_ID", "TOKEN_ENCRYPTION_KEY"])
def test_missing_wave_settings_still_stop_the_job_before_it_starts(variable: str) -> None:
    done = _prepare({variable: ""})
    assert done.returncode != 0
    # with neither half of the token keys (decision 0012), the private one is asked for
    named = "TOKEN_PRIVATE_KEY" if variable == "TOKEN_ENCRYPTION_KEY" else variable
    assert f"missing required setting(s): {named}" in done.stderr


UNUSED_BY_THE_WAVES = ["mf2py", "bs4", "requests", "rdflib", "pyRdfa", "rich", "pygments"]
READERS = f"""
import json, sys
from jiwa.startup import bulk_imports
with bulk_imports():
    import httpx
    from jiwa.reading.extract import read_html
page = read_html('''<html prefix="og: http://ogp.me/ns#"><head>
<meta property="og:title" content="Kopi Senja">
<script type="application/ld+json">{{"@type": "Product", "name": "Es Kopi Susu",
 "offers": {{"price": "18000", "priceCurrency": "IDR"}}}}</script></head><body>
<div itemscope itemtype="https://schema.org/Product"><span itemprop="name">Roti Bakar</span>
<span itemprop="offers" itemscope itemtype="https://schema.org/Offer">
<span itemprop="price" content="15000">Rp15.000</span></span></div></body></html>''',
                 "https://kopisenja.example/")
loaded = [m for m in {UNUSED_BY_THE_WAVES!r} if m in sys.modules]
import extruct  # the package's own names still work when asked for
print(json.dumps({{"products": [(p["name"], p["price"]) for p in page["products"]],
                  "title": page["title"], "loaded": loaded,
                  "extruct": callable(extruct.extract), "httpx_cli": callable(httpx.main)}}))
"""


def test_the_website_readers_load_only_what_they_use() -> None:
    """extruct's __init__ (microformats, RDFa) and httpx's CLI (rich, pygments) are left
    out of the job's way to its first Claude call (jiwa.reading.extract, jiwa.startup)."""
    done = subprocess.run([sys.executable, "-c", READERS], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["loaded"] == []
    assert sorted(found["products"]) == [["Es Kopi Susu", 18000], ["Roti Bakar", 15000]]
    assert found["title"] == "Kopi Senja" and found["extruct"] and found["httpx_cli"]
