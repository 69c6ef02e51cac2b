"""Download the image or gifv clip behind a link a stranger chose, never letting it reach inside.

Every hop is checked before it is requested: https only, a host allow-list, no literal private
address (only addresses plainly on the public internet), and a redirect limit. The address guard
also sits inside the connector's resolver, so the address that was checked is the address
connected to (a DNS answer cannot change between the check and the connection). The body is
capped while it streams and the whole fetch, redirects included, shares one timeout. The
relaxations (`allow_http`, `allow_private_addresses`) exist for tests on loopback only.
"""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from types import TracebackType
from typing import Final, Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bots.replies import LINK_REFUSED_REASON, LINK_UNAVAILABLE_REASON
from config import DiscordSettings
from core.errors import N_, ClipTooLarge, DeepGuardError, ImageTooLarge
from core.images import bytes_text

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_CHUNK: Final = 64 * 1024
_NAT64: Final = IPv6Network("64:ff9b::/96")


class LinkRefused(DeepGuardError):
    """The link points somewhere the bot must not fetch from."""

    default_message = LINK_REFUSED_REASON


class LinkUnavailable(DeepGuardError):
    """The server did not hand over the image: an expired CDN link, an error, a timeout."""

    default_message = LINK_UNAVAILABLE_REASON


def forbidden_address(ip: IPv4Address | IPv6Address) -> bool:
    """True for every address that is not plainly on the public internet."""
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return True
        for embedded in _embedded_ipv4(ip):
            if forbidden_address(embedded):
                return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def _embedded_ipv4(ip: IPv6Address) -> list[IPv4Address]:
    """IPv4 addresses that 6to4, Teredo and NAT64 would really connect to."""
    found = [ip.sixtofour] if ip.sixtofour is not None else []
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


class GuardedResolver(AbstractResolver):
    """Resolves like `inner`, then refuses a name if any of its addresses is forbidden."""

    def __init__(self, inner: AbstractResolver, *, allow_private: bool) -> None:
        self._inner = inner
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._allow_private and any(
            forbidden_address(ip_address(result["host"])) for result in results
        ):
            raise LinkRefused()
        return results

    async def close(self) -> None:
        await self._inner.close()


class LinkFetcher:
    """One guarded HTTP session for image links; open it with `async with`."""

    def __init__(
        self,
        settings: DiscordSettings,
        max_bytes: int,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._hosts = frozenset(host.lower().rstrip(".") for host in settings.link_hosts)
        self._allow_http = settings.allow_http
        self._allow_private = settings.allow_private_addresses
        self._timeout_s = settings.fetch_timeout_s
        self._max_redirects = settings.max_redirects
        self._max_bytes = max_bytes
        self._inner_resolver = resolver
        self._resolver: GuardedResolver | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def open(self) -> None:
        """Create the session; call it from a running event loop."""
        inner = self._inner_resolver or aiohttp.ThreadedResolver()  # needs the running loop
        self._resolver = GuardedResolver(inner, allow_private=self._allow_private)
        connector = aiohttp.TCPConnector(resolver=self._resolver, limit_per_host=8)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"Accept-Encoding": "identity", "User-Agent": "DeepGuard"},
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._resolver is not None:
            await self._resolver.close()  # the connector closes only resolvers it made itself
            self._resolver = None

    async def fetch(self, link: str, *, video_max_bytes: int | None = None) -> bytes:
        """The bytes behind `link`; raises `LinkRefused`, `LinkUnavailable` or `ImageTooLarge`.

        A video (a gifv embed's MP4) is capped at `video_max_bytes`, with `ClipTooLarge`.
        """
        if video_max_bytes is None:
            cap, too_large = self._max_bytes, ImageTooLarge()
        else:
            limit = bytes_text(video_max_bytes)
            too_large = ClipTooLarge(N_("the video is too large (limit {limit})"), limit=limit)
            cap = video_max_bytes
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._follow(URL(link), cap, too_large)
        except TimeoutError:
            raise LinkUnavailable() from None
        except (aiohttp.ClientError, ValueError):
            raise LinkUnavailable() from None

    def check(self, url: URL) -> None:
        """Refuse a URL by its scheme, host and literal address, before any connection."""
        if url.scheme != "https" and not (url.scheme == "http" and self._allow_http):
            raise LinkRefused()
        host = (url.host or "").lower().rstrip(".")
        if url.user is not None or host not in self._hosts:
            raise LinkRefused()
        try:
            literal = ip_address(host)
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        if not self._allow_private and forbidden_address(literal):
            raise LinkRefused()

    async def _follow(self, url: URL, cap: int, too_large: ImageTooLarge) -> bytes:
        if self._session is None:
            raise RuntimeError("LinkFetcher used outside `async with`; this is a bug")
        for _hop in range(self._max_redirects + 1):
            self.check(url)
            async with self._session.get(url, allow_redirects=False) as response:
                if response.status in _REDIRECTS and "Location" in response.headers:
                    url = response.url.join(URL(response.headers["Location"]))
                    continue
                if response.status != 200:
                    raise LinkUnavailable()
                return await _read_capped(response, cap, too_large)
        raise LinkRefused()


async def _read_capped(
    response: aiohttp.ClientResponse, cap: int, too_large: ImageTooLarge
) -> bytes:
    if response.content_length is not None and response.content_length > cap:
        raise too_large
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > cap:
            raise too_large
    return bytes(body)
