"""The asyncio Engine.IO client: one connection, driving ``engineio.ClientSession``.

After every call into the session the runtime *settles* it, as the server runtime does:
it dispatches the session's events, starts the POST / GET / WebSocket writes the session
asks for, re-arms the one timer, and tears the transports down once the session is
closed. The session decides; this module only does I/O.

Tasks, all owned by the connection and ended by its teardown: the pending polling GET,
the polling POST in flight, the WebSocket reader and writer, the upgrade probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from .._emitter import Emitter
from ..engineio.client import (
    ClientConfig,
    ClientSession,
    Handshake,
    Opened,
    PingReceived,
)
from ..engineio.config import Transport
from ..engineio.events import (
    CloseReason,
    MessageReceived,
    SessionClosed,
    UpgradeAborted,
    UpgradeCompleted,
)
from . import transports as tr
from .transports import ClientConnection, ConnectionClosed, Endpoint, SSLOption, TransportError

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("socketeer.client")

Gate = Callable[[], Awaitable[None]]
"""Awaited before each read: lets the layer above slow the reading down (backpressure)."""

_CLOSE_GRACE = 2.0  # seconds allowed to deliver the last messages after a local close
_WS_CLOSE_TOO_BIG = 1009


class EngineClient(Emitter):
    """One Engine.IO v4 connection to a server (the JS engine.io-client ``Socket``).

    Events (handlers are called in order, synchronously for plain functions):
    ``open(handshake)``, ``message(data)``, ``ping()``, ``upgrade(transport)``,
    ``upgrade_error(description)``, ``close(reason, description)`` (only after ``open``).

    Args:
        endpoint: where the server is.
        http: the HTTP client (its cookie jar is shared with WebSocket handshakes).
        headers: extra headers for the WebSocket handshakes (``http`` has them already).
        ssl: TLS options for WebSockets.
        transports: the transports to use, the first one to open with.
        upgrade: upgrade from polling to WebSocket when offered.
        try_all_transports: when the first transport fails before the handshake, try
            the next one (JS ``tryAllTransports``).
        max_message_size: the largest WebSocket message or polling response accepted.
        max_payload_packets: the most packets accepted in one polling response.
        timeout: seconds allowed to open a WebSocket or to get a probe's answer.
        gate: awaited before each read (backpressure from the layer above).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        http: httpx.AsyncClient,
        headers: dict[str, str] | None = None,
        ssl: SSLOption = None,
        transports: tuple[Transport, ...] = (Transport.POLLING, Transport.WEBSOCKET),
        upgrade: bool = True,
        try_all_transports: bool = False,
        max_message_size: int = 10_000_000,
        max_payload_packets: int = 10_000,
        timeout: float = 20.0,
        gate: Gate | None = None,
    ) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.config = ClientConfig(
            transports=transports, upgrade=upgrade, max_payload_packets=max_payload_packets
        )
        self._http = http
        self._headers = dict(headers or {})
        self._ssl = ssl
        self._try_all = try_all_transports
        self._max_size = max_message_size
        self._timeout = timeout
        self._gate = gate
        self._session: ClientSession | None = None
        self._opened: asyncio.Future[Handshake] | None = None
        self._closed: asyncio.Future[tuple[CloseReason, str]] | None = None
        self._finished = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._poll_task: asyncio.Task[None] | None = None
        self._post_task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._ws_wake = asyncio.Event()
        self._probe_ws: ClientConnection | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._settling = False
        self._local_close = False
        self._tearing_down = False

    # -- what the layer above reads --------------------------------------------------------

    @property
    def transport(self) -> str | None:
        """The current transport name ("polling" or "websocket"), None before ``open``."""
        return None if self._session is None else self._session.transport.value

    @property
    def sid(self) -> str | None:
        """The Engine.IO session id, once open."""
        return None if self._session is None else self._session.sid

    @property
    def writable(self) -> bool:
        """Whether a message sent now goes out at once (for volatile messages)."""
        return self._session is not None and self._session.writable

    @property
    def closed(self) -> bool:
        """Whether the session is over (or never opened)."""
        return self._session is None or self._session.closed

    # -- commands --------------------------------------------------------------------------

    async def open(self) -> Handshake:
        """Connect and wait for the handshake.

        Raises:
            TransportError: the server could not be reached, refused the request, or sent
                no valid handshake (with ``try_all_transports``, every transport failed).
        """
        candidates = self.config.transports
        for index, transport in enumerate(candidates):
            opened = self._begin(transport)
            try:
                return await opened
            except TransportError as exc:
                if not self._try_all or index + 1 >= len(candidates):
                    raise
                logger.debug("transport %s failed (%s); trying the next one", transport, exc)
                await self._finished.wait()  # the failed attempt's teardown
            except asyncio.CancelledError:
                self.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def send(self, data: str | bytes) -> bool:
        """Queue a message; False when the session is closed (the message is dropped)."""
        return self.send_many((data,))

    def send_many(self, messages: Sequence[str | bytes]) -> bool:
        """Queue messages in order (one packet and its attachments), settling once."""
        session = self._session
        if session is None:
            return False
        sent = True
        for data in messages:
            sent = session.send_message(data) and sent
        self._settle()
        return sent

    def check_alive(self) -> bool:
        """Apply an overdue deadline now (JS ``_hasPingExpired``); True when still open."""
        session = self._session
        if session is None or session.closed:
            return False
        session.handle_timer(_now())
        self._settle()
        return not session.closed

    def close(self, reason: CloseReason = CloseReason.FORCED_CLOSE) -> None:
        """Close from the client side; queued messages are still delivered (bounded)."""
        session = self._session
        if session is None:
            self._finished.set()
            return
        if session.closed:
            return
        self._local_close = True
        session.close(_now(), reason)
        self._settle()

    async def closed_reason(self) -> tuple[CloseReason, str]:
        """Wait until the session closes; return the reason and a description."""
        assert self._closed is not None, "open() first"
        return await asyncio.shield(self._closed)

    async def wait_finished(self) -> None:
        """Wait until the transports are torn down (the last messages sent, if any)."""
        await self._finished.wait()

    # -- opening ---------------------------------------------------------------------------

    def _begin(self, transport: Transport) -> asyncio.Future[Handshake]:
        loop = asyncio.get_running_loop()
        self._session = ClientSession(self.config, transport, _now())
        self._opened = loop.create_future()
        self._closed = loop.create_future()
        self._finished.clear()
        self._local_close = self._tearing_down = False
        if transport is Transport.POLLING:
            self._settle()  # starts the handshake GET
        else:
            self._spawn(self._open_websocket(self._session), "websocket")
        return self._opened

    async def _open_websocket(self, session: ClientSession) -> None:
        url = self.endpoint.url(Transport.WEBSOCKET, None, websocket=True)
        try:
            ws = await self._connect_ws(url)
        except TransportError as exc:
            session.ws_error(_now(), str(exc))
            self._settle()
            return
        if session.closed:
            await _close_ws(ws)
            return
        self._ws = ws
        self._spawn(self._write_ws(session, ws), "websocket writer")
        await self._read_ws(session, ws)

    async def _connect_ws(self, url: str) -> ClientConnection:
        return await tr.open_websocket(
            url,
            http=self._http,
            headers=self._headers,
            ssl=self._ssl,
            max_size=self._max_size,
            open_timeout=self._timeout,
        )

    # -- the settle loop -------------------------------------------------------------------

    def _settle(self) -> None:
        session = self._session
        if self._settling or session is None:
            return  # the running settle loop picks up what this call changed
        self._settling = True
        try:
            events = session.events_received()
            while True:
                for event in events:
                    self._dispatch(event)
                self._flush(session)
                events = session.events_received()
                if not events:
                    break
        finally:
            self._settling = False
        if session.closed:
            self._teardown(session)
        else:
            self._arm_timer(session)

    def _dispatch(self, event: Any) -> None:
        match event:
            case MessageReceived(data):
                self._emit("message", data)
            case PingReceived():
                self._emit("ping")
            case Opened(handshake):
                assert self._opened is not None
                if not self._opened.done():
                    self._opened.set_result(handshake)
                self._emit("open", handshake)
                session = self._session
                assert session is not None
                if session.start_probe():
                    self._spawn(self._probe(session), "probe")
            case UpgradeCompleted():
                ws, self._probe_ws = self._probe_ws, None
                assert ws is not None
                assert self._session is not None
                self._ws = ws
                self._spawn(self._write_ws(self._session, ws), "websocket writer")
                self._spawn(self._read_ws(self._session, ws), "websocket reader")
                self._emit("upgrade", Transport.WEBSOCKET.value)
            case UpgradeAborted(description):
                logger.debug("upgrade aborted: %s", description)
                ws, self._probe_ws = self._probe_ws, None
                if ws is not None:
                    self._spawn(_close_ws(ws), "probe close")
                self._emit("upgrade_error", description)
            case SessionClosed(reason, description):
                logger.debug("engine session closed: %s (%s)", reason, description)
                assert self._opened is not None
                assert self._closed is not None
                if not self._closed.done():
                    self._closed.set_result((reason, description))
                if not self._opened.done():
                    self._opened.set_exception(TransportError(description))
                    self._opened.exception()  # retrieved by open(); never "unretrieved"
                else:
                    self._emit("close", reason.value, description)

    def _flush(self, session: ClientSession) -> None:
        if session.transport is Transport.POLLING:
            if self._post_task is None:
                body = session.take_post()
                if body is not None:
                    self._post_task = self._spawn(self._post(session, body), "post")
            if self._poll_task is None and session.begin_poll():
                self._poll_task = self._spawn(self._poll(session), "poll")
        else:
            self._ws_wake.set()

    def _arm_timer(self, session: ClientSession) -> None:
        deadline = session.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = (
            None
            if deadline is None
            else asyncio.get_running_loop().call_at(deadline, self._on_timer, session)
        )

    def _on_timer(self, session: ClientSession) -> None:
        self._timer = self._timer_at = None
        session.handle_timer(_now())
        self._settle()

    # -- polling ---------------------------------------------------------------------------

    async def _poll(self, session: ClientSession) -> None:
        try:
            if self._gate is not None:
                await self._gate()
            url = self.endpoint.url(Transport.POLLING, session.sid)
            body = await tr.poll(self._http, url, self._max_size)
        except TransportError as exc:
            self._poll_task = None
            session.poll_failed(_now(), str(exc))
        else:
            self._poll_task = None
            session.receive_poll(body, _now())
        self._settle()

    async def _post(self, session: ClientSession, body: str) -> None:
        try:
            await tr.post(self._http, self.endpoint.url(Transport.POLLING, session.sid), body)
        except TransportError as exc:
            self._post_task = None
            session.post_failed(_now(), str(exc))
        else:
            self._post_task = None
            session.post_done(_now())
        self._settle()

    # -- WebSocket -------------------------------------------------------------------------

    async def _read_ws(self, session: ClientSession, ws: ClientConnection) -> None:
        try:
            while not session.closed:
                if self._gate is not None:
                    await self._gate()
                data = await ws.recv()
                session.receive_ws(data, _now())
                self._settle()
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == _WS_CLOSE_TOO_BIG:
                session.ws_error(_now(), "message too large")
            else:
                session.ws_closed(_now(), f"websocket closed ({exc})")
            self._settle()

    async def _write_ws(self, session: ClientSession, ws: ClientConnection) -> None:
        try:
            while True:
                messages = session.ws_messages()
                if messages:
                    for message in messages:
                        await ws.send(message)
                    continue
                if session.closed:
                    return
                self._ws_wake.clear()
                await self._ws_wake.wait()
        except ConnectionClosed as exc:
            session.ws_closed(_now(), f"websocket closed ({exc})")
            self._settle()

    async def _probe(self, session: ClientSession) -> None:
        url = self.endpoint.url(Transport.WEBSOCKET, session.sid, websocket=True)
        try:
            ws = await self._connect_ws(url)
        except TransportError as exc:
            session.probe_failed(_now(), str(exc))
            self._settle()
            return
        if not session.upgrading:  # closed (or aborted) meanwhile
            await _close_ws(ws)
            return
        self._probe_ws = ws
        try:
            for message in session.probe_messages():
                await ws.send(message)
            async with asyncio.timeout(self._timeout):
                answer = await ws.recv()
        except (ConnectionClosed, TimeoutError) as exc:
            session.probe_failed(_now(), str(exc) or "no answer in time")
        else:
            session.receive_probe(answer, _now())
        self._settle()

    # -- teardown --------------------------------------------------------------------------

    def _teardown(self, session: ClientSession) -> None:
        if self._tearing_down:
            return
        self._tearing_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        current = asyncio.current_task()
        if self._poll_task is not None and self._poll_task is not current and not self._local_close:
            # After a local close the held GET stays until the last POST (with the close
            # packet) is through, as in JS: dropping it first would look like a transport
            # error to the server.
            self._poll_task.cancel()
        probe, self._probe_ws = self._probe_ws, None
        self._spawn(self._shutdown(session, probe, current), "shutdown")

    async def _shutdown(
        self,
        session: ClientSession,
        probe: ClientConnection | None,
        closing_task: asyncio.Task[Any] | None,
    ) -> None:
        try:
            if probe is not None:
                await _close_ws(probe)
            if self._local_close:
                # Deliver what the session still holds: POSTs (ending with the close
                # packet) on polling, the last messages on WebSocket. Bounded.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_CLOSE_GRACE):
                        await self._drain(session)
            me = asyncio.current_task()
            for task in list(self._tasks):
                if task is not me and task is not closing_task:
                    task.cancel()
            ws, self._ws = self._ws, None
            if ws is not None:
                await _close_ws(ws)
        finally:
            self._finished.set()

    async def _drain(self, session: ClientSession) -> None:
        while self._post_task is not None:
            await asyncio.wait({self._post_task})  # its settle may start the next POST
        ws = self._ws
        if ws is not None:
            self._ws_wake.set()
            writers = [t for t in self._tasks if t.get_name() == "websocket writer"]
            if writers:
                await asyncio.wait(writers)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("engine client task %s failed", task.get_name(), exc_info=task.exception())


async def _close_ws(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await ws.close()


def _now() -> float:
    return asyncio.get_running_loop().time()


__all__ = ["EngineClient", "Gate"]
