"""The website fetcher never reaches private, loopback, link-local or metadata addresses."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from jiwa.scrape import SafeFetcher, UnsafeURLError, is_public

BLOCKED_ADDRESSES = ["127.0.0.1", "127.1.2.3", "10.0.0.1", "10.255.255.255", "172.16.0.1",
                     "172.31.255.254", "192.168.1.1", "169.254.169.254", "169.254.0.1",
                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::1", "fd00:ec2::254",
                     "::ffff:127.0.0.1", "::ffff:169.254.169.254", "224.0.0.1", "::"]


@pytest.mark.parametrize("address", BLOCKED_ADDRESSES)
def test_non_public_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


# IPv6 forms that embed, or translate to, a private IPv4, and ranges refused whole.
BLOCKED_IPV6_FORMS = {
    "::7f00:1": "IPv4-compatible 127.0.0.1 (RFC 4291 2.5.5.1)",
    "::a9fe:a9fe": "IPv4-compatible 169.254.169.254",
    "::5db8:d822": "IPv4-compatible, deprecated: refused even with a public IPv4",
    "::ffff:10.0.0.1": "IPv4-mapped (RFC 4291 2.5.5.2)",
    "::ffff:100.64.0.1": "IPv4-mapped CGNAT",
    "::ffff:0:7f00:1": "IPv4-translated 127.0.0.1 (RFC 2765)",
    "::ffff:0:a9fe:a9fe": "IPv4-translated 169.254.169.254",
    "fec0::1": "site-local (RFC 3879)",
    "feff:ffff::1": "site-local, top of fec0::/10",
    "2002:7f00:1::": "6to4 of 127.0.0.1 (RFC 3056)",
    "2002:a9fe:a9fe::": "6to4 of 169.254.169.254",
    "2002:c0a8:101::1": "6to4 of 192.168.1.1",
    "2002:5db8:d822::1": "6to4 of a public IPv4: the range is refused whole (RFC 7526)",
    "64:ff9b::7f00:1": "NAT64 well-known prefix, 127.0.0.1 (RFC 6052)",
    "64:ff9b::a9fe:a9fe": "NAT64 well-known prefix, 169.254.169.254",
    "64:ff9b::a00:1": "NAT64 well-known prefix, 10.0.0.1",
    "64:ff9b:1::1": "NAT64 local-use (RFC 8215)",
    "64:ff9b:1:a9fe:a9:fe00::": "NAT64 local-use, /56 layout of 169.254.169.254",
    "2001::1": "Teredo (RFC 4380)",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo, RFC 4380's example",
    "2001:db8::1": "documentation (RFC 3849)",
    "3fff::1": "documentation (RFC 9637)",
    "ff0e::1": "global-scope multicast",
}


@pytest.mark.parametrize("address", BLOCKED_IPV6_FORMS)
def test_ipv6_forms_of_private_addresses_are_not_public(address: str) -> None:
    assert not is_public(address), BLOCKED_IPV6_FORMS[address]


@pytest.mark.parametrize("address", [
    "93.184.216.34", "1.1.1.1", "2606:2800:220:1:248:1893:25c8:1946", "2a00:1450:4001::1",
    "::ffff:93.184.216.34",  # IPv4-mapped form of a public IPv4
    "::ffff:0:5db8:d822",  # IPv4-translated form of 93.184.216.34
    "64:ff9b::5db8:d822",  # what DNS64 answers for 93.184.216.34 on an IPv6-only network
])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(address)


def _fetcher(answers: dict[str, list[str]], **kw) -> SafeFetcher:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]
    return SafeFetcher(httpx.AsyncClient(), resolver=resolve, **kw)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://10.1.2.3/", "http://172.16.5.4/", "http://192.168.0.10/",
    "http://169.254.169.254/computeMetadata/v1/", "http://[::1]/", "http://[fe80::1]/",
    "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/",
    "http://[::7f00:1]/", "http://[::ffff:0:7f00:1]/", "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::]/", "http://[fec0::1]/",
])
def test_literal_private_addresses_are_refused(url: str) -> None:
    real = SafeFetcher(httpx.AsyncClient())  # the system resolver reads these spellings
    with pytest.raises(UnsafeURLError):
        asyncio.run(real.check(url))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "ftp://example.com/",
                                 "javascript:alert(1)", "http://user:pw@shop.example/",
                                 "http://metadata.google.internal/", "http://localhost/",
                                 "http:///nohost"])
def test_schemes_names_and_credentials_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError):
        asyncio.run(_fetcher({}).check(url))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1",
                                     "fe80::1", "::a9fe:a9fe", "2002:7f00:1::",
                                     "64:ff9b:1::a9fe:a9fe"])
def test_names_resolving_to_private_addresses_are_refused(address: str) -> None:
    fetcher = _fetcher({"evil.example": ["93.184.216.34", address]})
    with pytest.raises(UnsafeURLError, match="non-public"):
        asyncio.run(fetcher.check("http://evil.example/"))


def test_the_connection_goes_to_the_checked_address() -> None:
    fetcher = _fetcher({"shop.example": ["93.184.216.34"]})
    target, host, sni = asyncio.run(fetcher.check("https://shop.example/a?b=1"))
    assert target == "https://93.184.216.34:443/a?b=1"
    assert (host, sni) == ("shop.example", "shop.example")


class _Redirector(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.server.location)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Redirector)
    # A short poll: shutdown() waits for the loop to notice (0.5 s by default).
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    yield server
    server.shutdown()


@pytest.mark.parametrize("location", [
    "http://127.0.0.1:1/", "http://10.0.0.1/", "http://172.16.0.1/", "http://192.168.0.1/",
    "http://169.254.169.254/computeMetadata/v1/", "http://[::1]/", "http://[fe80::1]/",
    "http://metadata.google.internal/", "file:///etc/passwd",
])
def test_redirects_to_private_addresses_are_refused(redirector: HTTPServer,
                                                    location: str) -> None:
    redirector.location = location  # type: ignore[attr-defined]
    port = redirector.server_address[1]
    # The allow-list (the local stand-in setting) admits only the redirector itself.
    fetcher = SafeFetcher(httpx.AsyncClient(), allow_hosts=[f"127.0.0.1:{port}"])
    with pytest.raises(UnsafeURLError):
        asyncio.run(fetcher.fetch(f"http://127.0.0.1:{port}/"))


def test_allow_list_is_off_by_default() -> None:
    with pytest.raises(UnsafeURLError):
        asyncio.run(SafeFetcher(httpx.AsyncClient()).check("http://127.0.0.1:8080/"))
