"""A loopback listener that only records who connected: proof a refused link was not fetched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Sentinel:
    port: int
    connections: list[object] = field(default_factory=list)


@asynccontextmanager
async def sentinel() -> AsyncIterator[Sentinel]:
    """Listen on 127.0.0.1; every connection is noted and closed at once."""
    connections: list[object] = []

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield Sentinel(server.sockets[0].getsockname()[1], connections)
    finally:
        server.close()
        await server.wait_closed()
