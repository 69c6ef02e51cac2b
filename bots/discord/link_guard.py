"""Where a fetched link may connect: only addresses plainly on the public internet.

The check sits inside the connector's resolver too, so the address that was checked is the
address connected to (a DNS answer cannot change between the check and the connection).
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from typing import Final

from aiohttp.abc import AbstractResolver, ResolveResult

from bots.replies import LINK_REFUSED_REASON, LINK_UNAVAILABLE_REASON
from core.errors import DeepGuardError

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
