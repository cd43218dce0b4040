"""A TCP proxy between a service and PostgreSQL or Redis that injects faults on demand.

The proxy runs its own event loop in a daemon thread, so it serves a service that runs
in the test's loop (ASGI transport, `serve`) as well as one in a subprocess. Modes:

- `pass`: bytes flow both ways (the default).
- `refuse`: new connections are accepted and closed at once (a server that is gone);
  open ones are cut.
- `blackhole`: connections are accepted and nothing is ever answered (a server that
  hangs); bytes sent are read and dropped.
- `cut()`: close every open connection once, then keep the current mode (a dropped
  network or a restarted server).

    with FaultProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/db"
        proxy.mode = "blackhole"
        ...
        proxy.mode = "pass"
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

T = TypeVar("T")

Mode = Literal["pass", "refuse", "blackhole"]


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        self._mode: Mode = "pass"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        self._server = self._call(self._start())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, mode: Mode) -> None:
        self._mode = mode
        if mode == "refuse":
            self.cut()

    def cut(self) -> None:
        """Close every open connection (both sides) now."""
        self._call(self._cut())

    @contextmanager
    def fault(self, mode: Mode) -> Iterator[FaultProxy]:
        """`with proxy.fault("blackhole"): ...` then back to `pass` (connections cut)."""
        self.mode = mode
        try:
            yield self
        finally:
            self.cut()
            self.mode = "pass"

    # -- internals -----------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _start(self) -> asyncio.base_events.Server:
        return await asyncio.start_server(self._accept, self.listen_host, 0)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._cut()

    async def _cut(self) -> None:
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._mode == "refuse":
            writer.close()
            return
        self._writers.add(writer)
        if self._mode == "blackhole":
            await self._drain_forever(reader, writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._writers.discard(writer)
            writer.close()
            return
        self._writers.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _drain_forever(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self._mode == "blackhole":
                    continue  # swallow: the far side never hears of it
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
