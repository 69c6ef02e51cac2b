"""The link guard: what a link in a chat message may make the bot fetch, and how much."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from ipaddress import ip_address

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from bots.discord.links import LinkFetcher, LinkRefused, LinkUnavailable, forbidden_address
from config import DiscordSettings
from core.errors import ImageTooLarge
from tests.discord.fake_dns import FakeResolver
from tests.sentinel import sentinel

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CAP = 100_000


class Site:
    """A small image host on loopback whose handlers record every request."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.release = asyncio.Event()
        self.port = 0
        app = web.Application()
        app.router.add_get("/{name:.*}", self._serve)
        self._runner = web.AppRunner(app)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.release.set()
        await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.paths.append(name)
        if name == "cat.png":
            return web.Response(body=PNG, content_type="image/png")
        if name.startswith("redirect/"):
            raise web.HTTPFound(name.removeprefix("redirect/").replace("__", "://", 1))
        if name == "loop":
            raise web.HTTPFound("/loop")
        if name == "expired":
            raise web.HTTPNotFound()
        if name == "big":
            return web.Response(body=b"\0" * (CAP + 1))
        if name == "endless":
            return await self._endless(request)
        await self.release.wait()  # "slow": never answers while the test runs
        return web.Response(body=PNG)

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            while not self.release.is_set():
                await response.write(b"\0" * 65536)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should once the cap is reached
        return response


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    running = Site()
    await running.start()
    yield running
    await running.stop()


def settings(**overrides: object) -> DiscordSettings:
    values: dict[str, object] = {
        "link_hosts": ["images.example"],
        "allow_http": True,
        "allow_private_addresses": True,
        "fetch_timeout_s": 5.0,
        "max_redirects": 2,
    }
    values.update(overrides)
    return DiscordSettings.model_validate(values)


async def fetch(url: str, resolver: AbstractResolver | None = None, **overrides: object) -> bytes:
    resolver = resolver or FakeResolver({"images.example": "127.0.0.1"})
    async with LinkFetcher(settings(**overrides), CAP, resolver) as links:
        return await links.fetch(url)


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "127.0.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:8.8.8.8",
        "2002:7f00:1::",
        "64:ff9b::a00:1",
    ],
)
def test_private_and_special_addresses_are_forbidden(address: str) -> None:
    """Loopback, private, link-local, mapped, tunnelled, unspecified and multicast are refused."""
    assert forbidden_address(ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "162.159.128.233", "2606:4700::1"])
def test_public_addresses_are_allowed(address: str) -> None:
    """Ordinary internet addresses pass the guard."""
    assert not forbidden_address(ip_address(address))


async def test_allowed_link_is_fetched_through_the_resolver(site: Site) -> None:
    """A listed host is fetched, connecting to the address the guarded resolver returned."""
    resolver = FakeResolver({"images.example": "127.0.0.1"})
    assert await fetch(f"http://images.example:{site.port}/cat.png", resolver) == PNG
    assert resolver.asked == ["images.example"]
    assert resolver.closed


@pytest.mark.parametrize(
    "url",
    [
        "ftp://images.example/cat.png",
        "file:///etc/passwd",
        "https://other.example/cat.png",
        "https://images.example.evil.example/cat.png",
        "https://user:pw@images.example/cat.png",
    ],
)
async def test_scheme_and_host_are_checked_before_any_request(url: str) -> None:
    """Other schemes, unlisted hosts and credentials are refused without resolving anything."""
    resolver = FakeResolver({})
    with pytest.raises(LinkRefused):
        await fetch(url, resolver)
    assert resolver.asked == []


async def test_plain_http_is_refused_unless_allowed(site: Site) -> None:
    """Production settings fetch https only."""
    with pytest.raises(LinkRefused):
        await fetch(f"http://images.example:{site.port}/cat.png", allow_http=False)
    assert site.paths == []


@pytest.mark.parametrize("literal", ["10.0.0.1", "127.0.0.1", "169.254.169.254", "[::1]"])
async def test_literal_private_address_is_refused(literal: str) -> None:
    """An IP literal never reaches the resolver, so it is checked on its own."""
    host = literal.strip("[]")
    with pytest.raises(LinkRefused):
        await fetch(f"https://{literal}/x.png", link_hosts=[host], allow_private_addresses=False)


@pytest.mark.parametrize(
    "address", ["10.0.0.7", "127.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "fc00::1"]
)
async def test_name_resolving_to_private_address_is_refused_without_connecting(
    address: str,
) -> None:
    """A listed name whose DNS answer is private is refused before a connection is opened."""
    resolver = FakeResolver({"images.example": address})
    async with sentinel() as listener:
        with pytest.raises(LinkRefused):
            await fetch(
                f"https://images.example:{listener.port}/x.png",
                resolver,
                allow_private_addresses=False,
            )
    assert resolver.asked == ["images.example"]
    assert listener.connections == []


async def test_redirect_within_the_allow_list_is_followed(site: Site) -> None:
    """A redirect to an allowed URL is followed and checked like the first hop."""
    target = f"http__images.example:{site.port}/cat.png"
    assert await fetch(f"http://images.example:{site.port}/redirect/{target}") == PNG
    assert site.paths == [f"redirect/{target}", "cat.png"]


@pytest.mark.parametrize("target", ["https__evil.example/cat.png", "ftp__images.example/cat.png"])
async def test_redirect_to_a_forbidden_url_is_refused(site: Site, target: str) -> None:
    """Each hop is re-checked: a redirect cannot lead out of the allow-list."""
    with pytest.raises(LinkRefused):
        await fetch(f"http://images.example:{site.port}/redirect/{target}")
    assert site.paths == [f"redirect/{target}"]


async def test_redirect_to_loopback_by_address_is_refused(site: Site) -> None:
    """A redirect to the loopback address itself is refused when only a name is listed."""
    target = f"http__127.0.0.1:{site.port}/cat.png"
    with pytest.raises(LinkRefused):
        await fetch(f"http://images.example:{site.port}/redirect/{target}")
    assert "cat.png" not in site.paths


async def test_too_many_redirects_are_refused(site: Site) -> None:
    """A redirect loop stops after `max_redirects` hops."""
    with pytest.raises(LinkRefused):
        await fetch(f"http://images.example:{site.port}/loop", max_redirects=2)
    assert site.paths == ["loop", "loop", "loop"]


async def test_expired_link_is_unavailable(site: Site) -> None:
    """A 404 from the CDN (an expired signed link) is reported as unavailable."""
    with pytest.raises(LinkUnavailable):
        await fetch(f"http://images.example:{site.port}/expired")


async def test_declared_size_over_the_cap_is_refused(site: Site) -> None:
    """A Content-Length over the cap is refused before the body is read."""
    with pytest.raises(ImageTooLarge):
        await fetch(f"http://images.example:{site.port}/big")


async def test_byte_cap_applies_while_streaming(site: Site) -> None:
    """A body without a length that never ends is cut off at the cap, not read to the end."""
    with pytest.raises(ImageTooLarge):
        await fetch(f"http://images.example:{site.port}/endless", fetch_timeout_s=30.0)


async def test_slow_server_times_out(site: Site) -> None:
    """One total timeout covers the whole fetch."""
    with pytest.raises(LinkUnavailable):
        await fetch(f"http://images.example:{site.port}/slow", fetch_timeout_s=0.2)
    assert site.paths == ["slow"]


async def test_unreachable_host_is_unavailable() -> None:
    """A refused connection is an unavailable link, not a crash."""
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(LinkUnavailable):
        await fetch(f"http://images.example:{port}/cat.png")


async def test_fetch_outside_the_context_is_a_bug() -> None:
    """Using the fetcher before opening it fails loudly."""
    links = LinkFetcher(settings(), CAP, FakeResolver({}))
    with pytest.raises(RuntimeError, match="bug"):
        await links.fetch("http://images.example/cat.png")
