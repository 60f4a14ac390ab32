"""Compressed bodies cannot blow up the fetcher's memory (decompression bombs).

The bombs are built here: a deflate stream of zeros, made by repeating one byte-aligned
segment (each ends in a full flush, so the copies are identical), decodes to `size` bytes
from about size/1000 bytes; gzip on top of that shrinks it to a few kilobytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import struct
import threading
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from jiwa.scrape import SafeFetcher, UnreadableResponseError

PUBLIC_IP = "93.184.215.14"
MB = 1 << 20
LIMIT = 1_000_000
# The fetch may hold the body a few times over (bytes, the decoded text) plus one step of
# inflated output; 20 MB is far below the 512 Mi of the job and far above that.
PEAK_BOUND = 20 * MB
BOMB_SIZE = 256 * MB


def _zeros_deflate(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of `size` zero bytes (a multiple of 1 MiB), and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(MB)
    segment = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // MB):
        crc = zlib.crc32(block, crc)
    return segment * (size // MB) + c.flush(), crc


def gzip_bomb(size: int = BOMB_SIZE) -> bytes:
    body, crc = _zeros_deflate(size)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + body
            + struct.pack("<II", crc, size & 0xFFFFFFFF))


def deflate_bomb(size: int = BOMB_SIZE) -> bytes:
    body, _ = _zeros_deflate(size)
    adler = ((size % 65521) << 16) | 1  # Adler-32 of `size` zeros
    return b"\x78\xda" + body + struct.pack(">I", adler)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb()


class _Stream(httpx.AsyncByteStream):
    """The body as one chunk, unread: `httpx.Response(content=...)` would read and inflate
    it on construction, as no network transport does."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body


def fetcher(body: bytes, headers: list[tuple[str, str]], **kw: int) -> SafeFetcher:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=[("content-type", "text/html"), *headers],
                              stream=_Stream(body))

    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_IP]
    return SafeFetcher(httpx.AsyncClient(transport=httpx.MockTransport(answer)),
                       resolver=resolve, max_bytes=kw.get("max_bytes", LIMIT))


def fetch_measured(f: SafeFetcher, url: str = "https://shop.example/") -> tuple[str, int]:
    """The page's text and the peak of traced memory during the fetch."""
    tracemalloc.start()
    try:
        text = asyncio.run(f.fetch(url)).text
        return text, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate"])
def test_a_single_layer_bomb_is_cut_at_the_limit_as_it_inflates(coding: str) -> None:
    body = deflate_bomb() if coding == "deflate" else gzip_bomb()
    assert len(body) < BOMB_SIZE // 900
    text, peak = fetch_measured(fetcher(body, [("content-encoding", coding)]))
    assert text == "\0" * LIMIT
    assert peak < PEAK_BOUND, f"peak {peak / MB:.1f} MiB"


@pytest.mark.parametrize("headers", [
    [("content-encoding", "gzip, gzip")],
    [("content-encoding", "gzip"), ("content-encoding", "gzip")],
    [("content-encoding", "deflate, gzip")],
    [("content-encoding", "gzip,identity , GZIP")],
])
def test_stacked_codings_are_refused_unread(bomb: bytes,
                                            headers: list[tuple[str, str]]) -> None:
    # 256 MiB under two layers of gzip: a few kilobytes on the wire.
    stacked = gzip.compress(bomb)
    assert len(stacked) < 4000
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableResponseError, match="stacked"):
            asyncio.run(fetcher(stacked, headers).fetch("https://shop.example/"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BOUND, f"peak {peak / MB:.1f} MiB"


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "x-unknown"])
def test_codings_we_do_not_decode_are_refused_unread(coding: str) -> None:
    # Whatever the bytes: we neither ask for these nor inflate them, installed or not
    # (httpx would decode br only with brotli installed, and then a chunk at a time).
    f = fetcher(b"\x0b" * 5000, [("content-encoding", coding)])
    with pytest.raises(UnreadableResponseError, match="unsupported"):
        asyncio.run(f.fetch("https://shop.example/"))


def test_we_ask_only_for_the_codings_we_inflate() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/html"},
                              stream=_Stream(b"ok"))

    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_IP]
    f = SafeFetcher(httpx.AsyncClient(transport=httpx.MockTransport(answer)),
                    resolver=resolve)
    assert asyncio.run(f.fetch("https://shop.example/")).text == "ok"
    assert seen[0].headers["accept-encoding"] == "gzip, deflate"


HTML = ("<html><title>Kopi Senja</title><p>" + "kopi susu gula aren " * 500 + "</p>"
        ).encode()


@pytest.mark.parametrize(("coding", "body"), [
    ("gzip", gzip.compress(HTML)),
    ("deflate", zlib.compress(HTML)),
    ("deflate", zlib.compress(HTML)[2:-4]),  # raw deflate, sent by some servers
    ("gzip", gzip.compress(HTML[:5000]) + gzip.compress(HTML[5000:])),  # two members
    ("gzip", gzip.compress(HTML) + b"\0\0\0garbage"),  # trailing bytes, ignored
    ("identity", HTML),
    ("", HTML),
])
def test_ordinary_compressed_pages_are_read_whole(coding: str, body: bytes) -> None:
    headers = [("content-encoding", coding)] if coding else []
    assert asyncio.run(fetcher(body, headers).fetch("https://shop.example/")).text == (
        HTML.decode())


def test_pages_are_cut_at_the_limit_of_decoded_bytes() -> None:
    f = fetcher(gzip.compress(HTML), [("content-encoding", "gzip")], max_bytes=1000)
    assert asyncio.run(f.fetch("https://shop.example/")).text == HTML[:1000].decode()


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00not gzip at all", b"plain text"])
def test_a_corrupt_compressed_body_is_unreadable(body: bytes) -> None:
    with pytest.raises(UnreadableResponseError, match="corrupt"):
        asyncio.run(fetcher(body, [("content-encoding", "gzip")]).fetch(
            "https://shop.example/"))


def test_empty_deflate_blocks_end_at_the_raw_limit_not_the_timeout() -> None:
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    empty = c.flush(zlib.Z_FULL_FLUSH)  # an empty stored block: 5 bytes, no output
    assert c.compress(b"") + c.flush(zlib.Z_FULL_FLUSH) == empty
    body = empty * 400_000  # 2 MB that inflate to nothing
    f = fetcher(body, [("content-encoding", "deflate")])
    assert asyncio.run(asyncio.wait_for(f.fetch("https://shop.example/"), 5)).text == ""


# -- over a real socket: httpcore hands over 64 KiB reads, not one chunk -----------------

class _BombServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.body  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the fetcher hangs up at its limit
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(bomb: bytes) -> Iterator[HTTPServer]:
    srv = HTTPServer(("127.0.0.1", 0), _BombServer)
    srv.body = bomb  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_a_bomb_from_a_real_server_is_cut_at_the_limit(server: HTTPServer) -> None:
    port = server.server_address[1]
    f = SafeFetcher(httpx.AsyncClient(), allow_hosts=[f"127.0.0.1:{port}"])
    text, peak = fetch_measured(f, f"http://127.0.0.1:{port}/")
    assert text == "\0" * LIMIT
    assert peak < PEAK_BOUND, f"peak {peak / MB:.1f} MiB"
