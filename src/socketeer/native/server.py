"""``serve`` and ``run``: the native front-end as an embeddable server and as a program."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from ..server.engine import EngineServer
from .options import NativeOptions

if TYPE_CHECKING:
    from .http import Shared

logger = logging.getLogger("socketeer.native")


class HasEngine(Protocol):
    """A server that runs on an Engine.IO server (the Socket.IO ``Server``)."""

    @property
    def engine(self) -> EngineServer: ...  # pragma: no cover - protocol

    default_path: str


Served = EngineServer | HasEngine
"""What the front-end serves: an ``EngineServer`` or a Socket.IO ``Server``."""


def _import_http() -> Any:
    try:
        from . import http
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "the native front-end needs httptools: pip install 'socketeer[native]'"
        ) from exc
    return http


class NativeServer:
    """A running native front-end (what ``serve`` returns).

    ``close()`` starts a graceful shutdown: stop accepting, ``await io.close()`` (held
    polls are answered, WebSockets get their close frame), let the connections finish,
    and after ``shutdown_timeout`` seconds drop the rest; ``wait_closed()`` waits for it.
    Also an async context manager that closes on exit.
    """

    __slots__ = ("_address", "_closing", "_done", "_io", "_scheme", "_server", "_shared")

    def __init__(
        self, io: Served, server: asyncio.Server, shared: Shared, *, secure: bool = False
    ) -> None:
        self._io = io
        self._server = server
        self._address: tuple[str, int] = tuple(server.sockets[0].getsockname()[:2])
        self._scheme = "https" if secure else "http"
        self._shared = shared
        self._closing: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets."""
        return tuple(self._server.sockets)

    @property
    def port(self) -> int:
        """The port of the first listening socket."""
        return self._address[1]

    @property
    def url(self) -> str:
        """``http://host:port`` (``https``) of the first listening socket."""
        host, port = self._address
        if ":" in host:
            host = f"[{host}]"
        return f"{self._scheme}://{host}:{port}"

    @property
    def connections(self) -> int:
        """How many client connections are open."""
        return len(self._shared.connections)

    def close(self) -> None:
        """Start the graceful shutdown (idempotent)."""
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._shutdown())

    async def wait_closed(self) -> None:
        """Wait until the server is closed and every connection is gone."""
        await self._done.wait()

    def abort(self) -> None:
        """Drop every connection at once (e.g. a second Ctrl-C during the shutdown)."""
        for conn in list(self._shared.connections):
            conn.abort()

    async def _shutdown(self) -> None:
        shared = self._shared
        timeout = shared.options.shutdown_timeout
        shared.closing = True
        self._server.close()
        try:
            close = getattr(self._io, "close", None)
            closing: Awaitable[None] = close() if close is not None else shared.engine.close()
            async with asyncio.timeout(timeout):
                await closing
        except TimeoutError:
            logger.warning("closing the server took more than %s s", timeout)
        except Exception:  # the user's server failed to close; the connections still go
            logger.exception("error while closing the server")
        for conn in list(shared.connections):
            conn.shutdown()
        if shared.connections:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await shared.all_closed.wait()
        if shared.connections:
            logger.warning("dropping %d connections at shutdown", len(shared.connections))
            self.abort()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await shared.all_closed.wait()
        self._done.set()

    async def __aenter__(self) -> NativeServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()


async def serve(
    io: Served,
    host: str | None = "127.0.0.1",
    port: int = 3000,
    *,
    path: str | None = None,
    sock: socket.socket | None = None,
    ssl: ssl_module.SSLContext | None = None,
    backlog: int = 2048,
    reuse_port: bool = False,
    options: NativeOptions | None = None,
    **limits: Any,
) -> NativeServer:
    """Serve ``io`` (an ``EngineServer`` or a Socket.IO ``Server``) on ``host:port``.

    Engine.IO long-polling and WebSocket share the endpoint path (``/engine.io/`` for an
    engine server, ``/socket.io/`` for a Socket.IO server, or ``path``); every other path is
    answered 404. Returns once listening (``port=0`` picks a free port: see ``.url``).

    Args:
        sock: an already bound socket to serve on, instead of ``host``/``port``.
        ssl: serve HTTPS and WSS.
        options: limits and timeouts; or give them as keyword arguments (``NativeOptions``
            field names, e.g. ``keep_alive_timeout=5``).
    """
    http = _import_http()
    if isinstance(io, EngineServer):
        engine, default_path = io, "/engine.io/"
    else:
        engine, default_path = io.engine, io.default_path
    if options is None:
        options = NativeOptions(**limits)
    elif limits:
        raise TypeError("give either options= or keyword limits, not both")
    shared = http.Shared(engine, "/" + (path or default_path).strip("/") + "/", options)
    factory: Callable[[], asyncio.Protocol] = lambda: http.HTTPConnection(shared)  # noqa: E731
    loop = asyncio.get_running_loop()
    if sock is not None:
        server = await loop.create_server(factory, sock=sock, ssl=ssl, backlog=backlog)
    else:
        server = await loop.create_server(
            factory, host, port, ssl=ssl, backlog=backlog, reuse_port=reuse_port or None
        )
    return NativeServer(io, server, shared, secure=ssl is not None)


def _loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(
    io: Served,
    host: str | None = "127.0.0.1",
    port: int = 3000,
    *,
    use_uvloop: bool = True,
    **kwargs: Any,
) -> None:
    """Serve ``io`` until SIGINT or SIGTERM, then shut down gracefully (a second signal
    drops the remaining connections). Runs on uvloop when it is installed.

    Takes the arguments of ``serve``.
    """
    with asyncio.Runner(loop_factory=_loop_factory(use_uvloop)) as runner:
        runner.run(_serve_until_signal(io, host, port, kwargs))


async def _serve_until_signal(
    io: Served, host: str | None, port: int, kwargs: dict[str, Any]
) -> None:
    server = await serve(io, host, port, **kwargs)
    logger.info("socketeer serving on %s", server.url)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    installed: list[signal.Signals] = []
    for sig in signals:
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    try:
        await stop.wait()
        logger.info("shutting down")
        stop.clear()
        server.close()
        done = asyncio.ensure_future(server.wait_closed())
        forced = asyncio.ensure_future(stop.wait())
        await asyncio.wait((done, forced), return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            logger.info("dropping the remaining connections")
            server.abort()
            await done
        forced.cancel()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if server._closing is None:  # cancelled (e.g. Ctrl-C without signal handlers)
            server.close()
            await server.wait_closed()


__all__ = ["HasEngine", "NativeOptions", "NativeServer", "Served", "run", "serve"]
