"""A page at the fetcher's 1 MB limit stays well inside the job's 512 MiB: trafilatura,
extruct and lxml run in a fresh process on pages built to cost (2,500 product cards and
2,000 JSON-LD products, one 1 MB line of prices, tags nested 100,000 deep), and the peak
resident size of that process is checked. How long each took is printed (about 0.8 s
for the product page here), not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
JOB_MEMORY_MIB = 512  # infra: the job's memory limit

SCRIPT = r"""
import json, re, sys, time
from jiwa.reading.extract import read_html
import trafilatura, extruct.jsonld, extruct.w3cmicrodata, extruct.opengraph

LIMIT = 1_000_000
cards = "".join(
    f'<li class="product"><a href="/p/{i}/"><img src="/u/{i}.jpg" width="300">'
    f'<h2>Produk Nomor {i}</h2><span class="price"><span>Rp</span>{i}.000</span></a></li>'
    for i in range(1, 2500))
ld = json.dumps({"@context": "https://schema.org", "@graph": [
    {"@type": "Product", "name": f"Produk {i}", "offers": [{"price": str(i * 1000),
     "priceCurrency": "IDR"}]} for i in range(1, 2000)]})
pages = {
    "products": (f"<html><head><title>Toko</title><script type='application/ld+json'>{ld}"
                 f"</script></head><body><nav><a href='/'>Beranda</a></nav><main><p>"
                 + "Kata tentang toko kami. " * 300 + f"</p><ul>{cards}</ul></main></body></html>"),
    "one line of prices": "<p>" + "Kopi 5rb, " * 100_000 + "</p>",
    "nested": "<div>" * 100_000 + "Rp25.000" + "</div>" * 100_000,
}
def peak_mib():
    # VmHWM: this process's own peak (ru_maxrss carries the parent's across fork and exec)
    status = open("/proc/self/status").read()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

base = peak_mib()
report = {}
for name, html in pages.items():
    html = html[:LIMIT]
    start = time.perf_counter()
    out = read_html(html, "https://toko.example/")
    report[name] = {"seconds": round(time.perf_counter() - start, 2),
                    "products": len(out["products"]), "text": len(out["text"])}
report["peak_mib"], report["before_mib"] = peak_mib(), base
print(json.dumps(report))
"""


def test_a_1_mb_page_is_read_within_the_jobs_memory() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env={"PYTHONPATH": str(SHARED)}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    print(report)
    # the whole process (interpreter and libraries included) under a quarter of the limit
    assert report["peak_mib"] < JOB_MEMORY_MIB / 4
    for name in ("products", "one line of prices", "nested"):
        assert report[name]["products"] <= 20 and report[name]["text"] <= 4000
    assert report["products"]["products"] == 20
