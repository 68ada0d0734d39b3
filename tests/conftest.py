"""Fixtures shared by every test directory.

``serve_asgi``: serve an ASGI app with uvicorn on 127.0.0.1 (a free port) inside the test's
event loop; ``base_url = await serve_asgi(app)``. The server is shut down at teardown, and
the test fails if uvicorn logged an error (an exception escaped the app) while it ran.

``serve_native``: the same for socketeer's native front-end; ``base_url = await
serve_native(io, **serve_options)`` (``io`` an ``EngineServer`` or a Socket.IO ``Server``).
The test fails if the front-end (or asyncio, on its behalf) logged an error.

``frontend``: "asgi" unless a test parametrizes it indirectly, e.g. with ``BOTH_FRONTENDS``,
to run against both front-ends; fixtures that start servers pick one with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn

from socketeer.native import NativeServer, serve

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 10.0


# uvicorn 0.54 with websockets-sansio never marks the handshake complete after a
# ``websocket.http.response`` (https://github.com/Kludex/uvicorn/pull/3138, open), so each
# refused WebSocket logs this error although the client got the app's response. Tests that
# refuse WebSockets still check the status and body the client received.
_UVICORN_DENIAL_BUG = "ASGI callable returned without completing handshake."


class _ErrorRecords(logging.Handler):
    """Collects the ERROR records uvicorn logs (e.g. "Exception in ASGI application")."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() != _UVICORN_DENIAL_BUG:
            self.records.append(record)


class _TestServer(uvicorn.Server):
    """A uvicorn server that reports readiness with an event and leaves signals alone."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # pytest owns SIGINT/SIGTERM; uvicorn must not replace the handlers
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        except SystemExit as exc:  # uvicorn exits the process when lifespan startup fails
            raise RuntimeError(f"uvicorn failed to start (exit code {exc.code})") from None
        if not self.should_exit:
            self.ready.set()


class ASGIServers:
    """What ``serve_asgi`` yields: ``base_url = await serve_asgi(app, **uvicorn_config)``."""

    def __init__(self) -> None:
        self._running: list[tuple[_TestServer, asyncio.Task[None], socket.socket]] = []
        self.errors = _ErrorRecords()

    async def __call__(self, app: Any, **config: Any) -> str:
        # IPPROTO_TCP explicitly: asyncio then sets TCP_NODELAY on accepted connections
        # (it checks the protocol number), sparing ~40 ms of delayed ACK per response.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            settings: dict[str, Any] = {
                "lifespan": "on",
                "log_level": "warning",
                "log_config": None,  # leave logging to pytest (records show up in reports)
                "ws": "websockets-sansio",
                "timeout_graceful_shutdown": 5,
                **config,
            }
            server = _TestServer(uvicorn.Config(app, **settings))
            task = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
        except BaseException:
            sock.close()
            raise
        self._running.append((server, task, sock))
        ready = asyncio.create_task(server.ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, task}, timeout=STARTUP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if task in done:
            task.result()  # raises the startup error, if any
            raise RuntimeError("uvicorn stopped during startup (see the log)")
        if ready not in done:
            raise RuntimeError(f"uvicorn did not start within {STARTUP_TIMEOUT} s")
        host, port = sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def stop_all(self) -> None:
        running, self._running = self._running, []
        for server, _, _ in running:
            server.should_exit = True
        failures: list[str] = []
        for server, task, sock in running:
            try:
                async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                    await task
            except TimeoutError:
                server.force_exit = True
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
                failures.append(f"uvicorn did not shut down within {SHUTDOWN_TIMEOUT} s")
            except Exception as exc:  # noqa: BLE001 (reported below, after every server stopped)
                failures.append(f"uvicorn failed: {exc!r}")
            finally:
                sock.close()
        if failures:
            pytest.fail("; ".join(failures))


@pytest.fixture
async def serve_asgi() -> AsyncIterator[ASGIServers]:
    """Serve ASGI apps on 127.0.0.1 with uvicorn: ``url = await serve_asgi(app)``."""
    servers = ASGIServers()
    uvicorn_logger = logging.getLogger("uvicorn")
    uvicorn_logger.addHandler(servers.errors)
    try:
        yield servers
        await servers.stop_all()
    finally:
        uvicorn_logger.removeHandler(servers.errors)
    if servers.errors.records:
        messages = "\n".join(
            f"{record.name}: {record.getMessage()}"
            + (
                f"\n{logging.Formatter().formatException(record.exc_info)}"
                if record.exc_info
                else ""
            )
            for record in servers.errors.records
        )
        pytest.fail(f"uvicorn logged errors while serving:\n{messages}")


# ---- the native front-end ---------------------------------------------------------------

FRONTENDS = ["asgi", "native"]
BOTH_FRONTENDS = pytest.mark.parametrize("frontend", FRONTENDS, indirect=True)
"""Run a test against uvicorn + ``ASGIApp`` and against the native front-end."""


@pytest.fixture
def frontend(request: pytest.FixtureRequest) -> str:
    """The front-end that serves the test's server: "asgi" (default) or "native"."""
    name: str = getattr(request, "param", "asgi")
    assert name in FRONTENDS, name
    return name


class _NativeErrors(logging.Handler):
    """Collects ERROR records of the native front-end, and asyncio's (a protocol failed)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class NativeServers:
    """What ``serve_native`` yields: ``base_url = await serve_native(io, **options)``."""

    LOGGERS = ("socketeer.native", "asyncio")

    def __init__(self) -> None:
        self.running: list[NativeServer] = []
        self.errors = _NativeErrors()

    async def __call__(self, io: Any, **options: Any) -> str:
        server = await serve(io, "127.0.0.1", 0, **options)
        self.running.append(server)
        return server.url

    async def stop_all(self) -> None:
        running, self.running = self.running, []
        for server in running:
            server.close()
        failures: list[str] = []
        for server in running:
            try:
                async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                    await server.wait_closed()
            except TimeoutError:
                server.abort()
                failures.append(f"the native server did not shut down within {SHUTDOWN_TIMEOUT} s")
        if failures:
            pytest.fail("; ".join(failures))


@pytest.fixture
async def serve_native() -> AsyncIterator[NativeServers]:
    """Serve with the native front-end on 127.0.0.1: ``url = await serve_native(io)``."""
    servers = NativeServers()
    loggers = [logging.getLogger(name) for name in NativeServers.LOGGERS]
    for logger in loggers:
        logger.addHandler(servers.errors)
    try:
        yield servers
        await servers.stop_all()
    finally:
        for logger in loggers:
            logger.removeHandler(servers.errors)
    if servers.errors.records:
        messages = "\n".join(
            f"{record.name}: {record.getMessage()}"
            + (
                f"\n{logging.Formatter().formatException(record.exc_info)}"
                if record.exc_info
                else ""
            )
            for record in servers.errors.records
        )
        pytest.fail(f"the native front-end logged errors while serving:\n{messages}")
