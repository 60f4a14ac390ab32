"""Fetching a user-supplied website without reaching anything private (SSRF).

Every hop (the URL and each redirect) is resolved once, every resolved address must be
public, and the connection goes to that checked address (the Host header and TLS SNI
keep the name), so a DNS answer cannot change between the check and the connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

BLOCKED_NAMES = frozenset({"metadata.google.internal", "metadata", "localhost",
                           "metadata.goog"})
# Ranges `is_global` does not cover, or that we refuse explicitly.
BLOCKED_NETWORKS = [ipaddress.ip_network(n) for n in (
    "100.64.0.0/10", "169.254.0.0/16", "fd00:ec2::254/128", "64:ff9b::/96")]

Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeURLError(ValueError):
    """The URL, or a redirect, points somewhere we will not fetch."""


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
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in BLOCKED_NETWORKS):
        return False
    return ip.is_global and not ip.is_multicast


class SafeFetcher:
    def __init__(self, http: httpx.AsyncClient, *, resolver: Resolver = system_resolver,
                 allow_hosts: Iterable[str] = (), max_bytes: int = 1_000_000,
                 max_redirects: int = 3, timeout: float = 10.0) -> None:
        self._http, self._resolve = http, resolver
        self._allow = {h.strip().lower() for h in allow_hosts if h.strip()}
        self._max_bytes, self._max_redirects, self._timeout = max_bytes, max_redirects, timeout

    async def fetch(self, url: str) -> Page:
        return await asyncio.wait_for(self._fetch(url), self._timeout)

    async def _fetch(self, url: str) -> Page:
        for _ in range(self._max_redirects + 1):
            target, host_header, sni = await self.check(url)
            request = self._http.build_request(
                "GET", target, headers={"Host": host_header, "Accept": "text/html"},
                extensions={"sni_hostname": sni} if sni else {})
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self._max_bytes:
                        break
                return Page(url, response.status_code,
                            response.headers.get("content-type", ""),
                            bytes(body[: self._max_bytes]).decode(
                                response.charset_encoding or "utf-8", "replace"))
            finally:
                await response.aclose()
        raise UnsafeURLError("too many redirects")

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
