"""Fetching a user-supplied website without reaching anything private (SSRF).

Every hop (the URL and each redirect) is resolved once, every resolved address must be
public, and the connection goes to that checked address (the Host header and TLS SNI
keep the name), so a DNS answer cannot change between the check and the connect.

The body is read raw and inflated here, not by httpx: httpx inflates each received chunk
whole, so a few hundred compressed bytes (`Content-Encoding: gzip, gzip`) become gigabytes
before any size limit is looked at. Here the limit applies to decoded bytes as they are
decoded, in steps of at most `_STEP` bytes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

BLOCKED_NAMES = frozenset({"metadata.google.internal", "metadata", "localhost",
                           "metadata.goog"})
# Refused whole, whatever `ipaddress` says (its lists differ between Python releases):
BLOCKED_NETWORKS = [ipaddress.ip_network(n) for n in (
    "100.64.0.0/10",      # CGNAT, RFC 6598
    "169.254.0.0/16",     # link-local, the metadata server, RFC 3927
    "fd00:ec2::254/128",  # AWS's IPv6 metadata address
    "::/96",              # IPv4-compatible, deprecated (RFC 4291 §2.5.5.1); ::, ::1 too
    "fec0::/10",          # site-local, deprecated (RFC 3879) but still routed by some stacks
    "2001::/32",          # Teredo (RFC 4380): tunnels to an IPv4 we cannot vet
    "2002::/16",          # 6to4 (RFC 3056, relays deprecated by RFC 7526): embeds an IPv4
    "64:ff9b:1::/48",     # local-use NAT64 (RFC 8215): the IPv4's place is the operator's
    "3fff::/20",          # documentation (RFC 9637)
)]
# Carry an IPv4 in their last 32 bits and reach that IPv4: it must be public itself.
EMBEDDING_NETWORKS = [ipaddress.IPv6Network(n) for n in (
    "::ffff:0:0/96",      # IPv4-mapped (RFC 4291 §2.5.5.2)
    "::ffff:0:0:0/96",    # IPv4-translated, SIIT (RFC 2765 §2.1)
    "64:ff9b::/96",       # NAT64 well-known prefix (RFC 6052 §2.1); DNS64 answers use it
)]
# Codings we inflate; anything else, or more than one, is refused (see the module's doc).
ACCEPT_ENCODING = "gzip, deflate"
_STEP = 64 * 1024

Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeURLError(ValueError):
    """The URL, or a redirect, points somewhere we will not fetch."""


class UnreadableResponseError(ValueError):
    """The body is in a content-coding we will not decode, or is corrupt."""


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    content_type: str
    text: str


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        for net in EMBEDDING_NETWORKS:
            if ip in net:
                ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                break
    if any(ip in net for net in BLOCKED_NETWORKS):
        return False
    return ip.is_global and not ip.is_multicast


class _Inflater:
    """gzip or deflate, inflated at most `_STEP` bytes at a time up to a limit."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding in ("gzip", "x-gzip")
        self._z = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._first, self._later_member = True, False

    def inflate_into(self, body: bytearray, data: bytes, limit: int) -> None:
        """Append what `data` inflates to, stopping once `body` holds `limit` bytes (the
        rest of `data` is then dropped: the caller stops reading)."""
        while len(body) < limit:
            room = min(_STEP, limit - len(body))
            try:
                piece = self._decompress(data, room)
            except zlib.error as exc:
                if self._later_member:
                    return  # bytes after a complete gzip member: ignored, as httpx does
                raise UnreadableResponseError("corrupt compressed body") from exc
            body += piece
            data = self._z.unconsumed_tail
            if self._z.eof:
                data = self._z.unused_data
                if not (self._gzip and data):
                    return
                # Concatenated gzip members are one body (RFC 1952 §2.2).
                self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)
                self._later_member = True
            elif not data and len(piece) < room:
                return  # input used up and no output pending

    def _decompress(self, data: bytes, room: int) -> bytes:
        first, self._first = self._first, False
        try:
            return self._z.decompress(data, room)
        except zlib.error:
            if self._gzip or not first:
                raise
        # "deflate" should be zlib-wrapped (RFC 9110 §8.4.1.2); some servers send it raw.
        # Browsers and httpx accept both.
        self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._z.decompress(data, room)


class SafeFetcher:
    def __init__(self, http: httpx.AsyncClient, *, resolver: Resolver = system_resolver,
                 allow_hosts: Iterable[str] = (), routes: Mapping[str, str] | None = None,
                 max_bytes: int = 1_000_000, max_redirects: int = 3,
                 timeout: float = 10.0) -> None:
        self._http, self._resolve = http, resolver
        self._allow = {h.strip().lower() for h in allow_hosts if h.strip()}
        # Local sample sites only (JIWA_SCRAPE_ROUTES, empty in production): a name served
        # by a local stand-in over plain http, as the fal seam rewrites fal's host.
        self._routes = {k.strip().lower(): v.strip() for k, v in (routes or {}).items()}
        self._max_bytes, self._max_redirects, self._timeout = max_bytes, max_redirects, timeout

    async def fetch(self, url: str, *, follow: Callable[[str], bool] | None = None) -> Page:
        """The page at `url` after its redirects. A redirect to a URL `follow` refuses is
        not requested: the answer is that redirect (its status, `url` the target, no body)."""
        return await asyncio.wait_for(self._fetch(url, follow), self._timeout)

    async def _fetch(self, url: str, follow: Callable[[str], bool] | None = None) -> Page:
        for _ in range(self._max_redirects + 1):
            target, host_header, sni = await self.check(url)
            request = self._http.build_request(
                "GET", target, headers={"Host": host_header, "Accept": "text/html",
                                        "Accept-Encoding": ACCEPT_ENCODING},
                extensions={"sni_hostname": sni} if sni else {})
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    if follow is not None and not follow(url):
                        return Page(url, response.status_code, "", "")
                    continue
                body = await self._read(response)
                return Page(url, response.status_code,
                            response.headers.get("content-type", ""),
                            body.decode(response.charset_encoding or "utf-8", "replace"))
            finally:
                await response.aclose()
        raise UnsafeURLError("too many redirects")

    async def _read(self, response: httpx.Response) -> bytes:
        """At most `max_bytes` decoded bytes of the body; memory stays near that."""
        if response.is_stream_consumed:
            # Only an in-memory transport (tests' httpx.MockTransport with `content=`) hands
            # over a body httpx has already read and decoded; a network one never does.
            return response.content[: self._max_bytes]
        codings = [c.strip().lower() for c in
                   response.headers.get_list("content-encoding", split_commas=True)]
        codings = [c for c in codings if c not in ("", "identity")]
        if len(codings) > 1:
            raise UnreadableResponseError("stacked content-codings")
        if codings and codings[0] not in ("gzip", "x-gzip", "deflate"):
            # br, zstd, compress: we neither ask for nor decode them.
            raise UnreadableResponseError("unsupported content-coding")
        inflater = _Inflater(codings[0]) if codings else None
        body, raw = bytearray(), 0
        async for chunk in response.aiter_raw():
            # Raw bytes count too, so a stream of empty deflate blocks ends here, not at
            # the timeout.
            raw += len(chunk)
            if inflater is None:
                body += chunk[: self._max_bytes - len(body)]
            else:
                inflater.inflate_into(body, chunk, self._max_bytes)
            if len(body) >= self._max_bytes or raw >= self._max_bytes:
                break
        return bytes(body)

    async def check(self, url: str) -> tuple[str, str, str | None]:
        """The URL to connect to (host replaced by a checked address), the Host header,
        and the TLS server name."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https"):
            raise UnsafeURLError(f"scheme {parts.scheme or 'none'!r} is not allowed")
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise UnsafeURLError("no host")
        if parts.username or parts.password:
            raise UnsafeURLError("credentials in URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host_header = host if parts.port is None else f"{host}:{port}"
        if f"{host}:{port}" in self._allow:
            return url, host_header, None
        if host in self._routes:
            target = urlunsplit(("http", self._routes[host], parts.path or "/", parts.query, ""))
            return target, host, None
        if host in BLOCKED_NAMES or host.endswith(".internal") or host.endswith(".local"):
            raise UnsafeURLError(f"host {host} is internal")
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise UnsafeURLError(f"host {host} does not resolve") from exc
        if not addresses:
            raise UnsafeURLError(f"host {host} does not resolve")
        for address in addresses:
            if not is_public(address):
                raise UnsafeURLError(f"host {host} resolves to a non-public address")
        ip = ipaddress.ip_address(addresses[0])
        netloc = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        return target, host_header, host if parts.scheme == "https" else None
