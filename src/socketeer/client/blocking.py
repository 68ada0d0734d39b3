"""``BlockingClient``: the Socket.IO client for synchronous code.

It runs an asyncio ``Client`` on a private event loop in a daemon thread and forwards
each call to it; it holds no protocol code of its own. Handlers and acknowledgement
callbacks registered through it are plain functions run one at a time, in the order the
events arrived, on one handler thread: they may call the blocking methods (even
``emit_with_ack``) without blocking the connection. Coroutine functions are accepted too
and run on the client's loop.

::

    with BlockingClient("http://localhost:3000") as client:   # connects
        client.on("news", print)
        answer = client.timeout(5).emit_with_ack("question", 42)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._emitter import AnyHandler
from .client import AckCallback, Auth, Client, ClientSocket, _SocketEmitter
from .manager import Manager

T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])


class _Runner:
    """A private event loop on a daemon thread, plus the handler thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.handlers = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="socketeer-handlers"
        )
        started = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(started,), name="socketeer-client-loop", daemon=True
        )
        self.thread.start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and wait for its result (in the caller's thread)."""
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("a BlockingClient method was called from its own event loop")
        if self.loop.is_closed():
            coroutine.close()
            raise RuntimeError("the BlockingClient is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:  # also concurrent.futures.TimeoutError, and AckTimeout
            if future.done():
                raise  # the coroutine's own TimeoutError (an AckTimeout...)
            future.cancel()
            raise TimeoutError(f"no result within {timeout} s") from None

    def call(self, function: Callable[[], T]) -> T:
        """Call ``function`` on the loop (where the client lives) and return its result."""

        async def call() -> T:
            return function()

        return self.run(call())

    def handler(self, function: H) -> Callable[..., Any]:
        """Wrap a user function so that it runs on the handler thread (in order)."""
        if inspect.iscoroutinefunction(function):
            return function

        @functools.wraps(function)
        async def on_handler_thread(*args: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.handlers, functools.partial(function, *args))

        return on_handler_thread

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(10)
        self.handlers.shutdown(wait=False, cancel_futures=True)


class BlockingClientSocket:
    """A namespace socket for synchronous code; see ``ClientSocket`` for the semantics."""

    def __init__(self, runner: _Runner, socket: ClientSocket) -> None:
        self._runner = runner
        self._socket = socket
        self._wrapped: dict[Callable[..., Any], Callable[..., Any]] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._socket!r}>"

    # -- state -----------------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The socket id, while connected."""
        return self._socket.id

    @property
    def connected(self) -> bool:
        """Whether the namespace connection is established."""
        return self._socket.connected

    @property
    def recovered(self) -> bool:
        """Whether the last connection recovered the previous session."""
        return self._socket.recovered

    @property
    def active(self) -> bool:
        """Whether the socket is to be (re)connected."""
        return self._socket.active

    @property
    def transport(self) -> str | None:
        """The current transport ("polling" / "websocket"), if connected."""
        return self._socket.transport

    @property
    def nsp(self) -> str:
        """The namespace."""
        return self._socket.nsp

    # -- connecting ------------------------------------------------------------------------

    def connect(self, *, wait: bool = True, timeout: float | None = None) -> None:
        """Connect; with ``wait``, block until connected (at most ``timeout`` seconds).

        Raises ``ConnectionRefusedByServer``, ``ConnectionFailed``, or ``TimeoutError``
        (the socket is then disconnected).
        """
        self._runner.run(self._connect(wait, timeout))

    async def _connect(self, wait: bool, within: float | None) -> None:
        async with asyncio.timeout(within):
            await self._socket.connect(wait=wait)

    def disconnect(self) -> None:
        """Leave the namespace; blocks until the connection is torn down if it closes."""
        self._runner.run(self._disconnect())

    async def _disconnect(self) -> None:
        await self._socket.disconnect()

    # -- emitting --------------------------------------------------------------------------

    def emit(self, event: str, *args: Any, callback: AckCallback | None = None) -> None:
        """Emit ``event``; ``callback`` runs on the handler thread when acknowledged."""
        wrapped = None if callback is None else self._runner.handler(callback)
        self._runner.call(lambda: self._socket.emit(event, *args, callback=wrapped))

    def send(self, *args: Any, callback: AckCallback | None = None) -> None:
        """Emit a ``message`` event."""
        self.emit("message", *args, callback=callback)

    def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit and block until acknowledged; see ``ClientSocket.emit_with_ack``."""
        return self._runner.run(self._socket.emit_with_ack(event, *args))

    def timeout(self, seconds: float) -> _BlockingEmitter:
        """Emit with an acknowledgement timeout."""
        return _BlockingEmitter(self, self._socket.timeout(seconds))

    @property
    def volatile(self) -> _BlockingEmitter:
        """Emit only if the event can be sent at once."""
        return _BlockingEmitter(self, self._socket.volatile)

    # -- listeners -------------------------------------------------------------------------

    def on(self, event: str, handler: H | None = None) -> Any:
        """Register ``handler`` (run on the handler thread); without one, a decorator.

        The handler's return value acknowledges the event when the server asked.
        """
        if handler is None:
            return functools.partial(self.on, event)
        wrapped = self._wrap(handler)
        self._runner.call(lambda: self._socket.on(event, wrapped))
        return handler

    def off(self, event: str, handler: Callable[..., Any] | None = None) -> None:
        """Remove one handler, or every handler of ``event``."""
        wrapped = None if handler is None else self._wrapped.get(handler)
        if handler is not None and wrapped is None:
            return
        self._runner.call(lambda: self._socket.off(event, wrapped))

    def on_any(self, handler: AnyHandler) -> AnyHandler:
        """Call ``handler(event, *args)`` for every incoming event (on the handler thread)."""
        wrapped = self._wrap(handler)
        self._runner.call(lambda: self._socket.on_any(wrapped))
        return handler

    def off_any(self, handler: AnyHandler | None = None) -> None:
        """Remove one catch-all listener, or all of them."""
        wrapped = None if handler is None else self._wrapped.get(handler)
        if handler is None or wrapped is not None:
            self._runner.call(lambda: self._socket.off_any(wrapped))

    def on_any_outgoing(self, handler: AnyHandler) -> AnyHandler:
        """Call ``handler(event, *args)`` for every event sent (on the handler thread)."""
        wrapped = self._wrap(handler)
        self._runner.call(lambda: self._socket.on_any_outgoing(wrapped))
        return handler

    def off_any_outgoing(self, handler: AnyHandler | None = None) -> None:
        """Remove one outgoing catch-all listener, or all of them."""
        wrapped = None if handler is None else self._wrapped.get(handler)
        if handler is None or wrapped is not None:
            self._runner.call(lambda: self._socket.off_any_outgoing(wrapped))

    def _wrap(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = self._wrapped.get(handler)
        if wrapped is None:
            wrapped = self._wrapped[handler] = self._runner.handler(handler)
        return wrapped


class _BlockingEmitter:
    """``client.timeout(s)`` / ``client.volatile`` for ``BlockingClient``."""

    __slots__ = ("_emitter", "_owner")

    def __init__(self, owner: BlockingClientSocket, emitter: _SocketEmitter) -> None:
        self._owner = owner
        self._emitter = emitter

    def timeout(self, seconds: float) -> _BlockingEmitter:
        return _BlockingEmitter(self._owner, self._emitter.timeout(seconds))

    @property
    def volatile(self) -> _BlockingEmitter:
        return _BlockingEmitter(self._owner, self._emitter.volatile)

    def emit(self, event: str, *args: Any, callback: AckCallback | None = None) -> None:
        runner = self._owner._runner
        wrapped = None if callback is None else runner.handler(callback)
        runner.call(lambda: self._emitter.emit(event, *args, callback=wrapped))

    def emit_with_ack(self, event: str, *args: Any) -> Any:
        return self._owner._runner.run(self._emitter.emit_with_ack(event, *args))


class _BlockingManager:
    """``client.io`` for ``BlockingClient``: manager events, handlers on the handler thread."""

    __slots__ = ("_manager", "_runner")

    def __init__(self, runner: _Runner, manager: Manager) -> None:
        self._runner = runner
        self._manager = manager

    def on(self, event: str, handler: H | None = None) -> Any:
        """Register a manager event handler (``reconnect``, ``reconnect_attempt``...)."""
        if handler is None:
            return functools.partial(self.on, event)
        wrapped = self._runner.handler(handler)
        self._runner.call(lambda: self._manager.on(event, wrapped))
        return handler

    @property
    def ready_state(self) -> str:
        """ "closed", "opening" or "open"."""
        return self._manager.ready_state

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnection is under way."""
        return self._manager.reconnecting


class BlockingClient(BlockingClientSocket):
    """``Client`` for synchronous code. Takes the arguments of ``Client``.

    ``with BlockingClient(url) as client:`` connects, and closes everything (the loop
    thread included) at the end; otherwise call ``connect()`` and, at the end, ``close()``.
    """

    def __init__(self, url: str, **options: Any) -> None:
        runner = _Runner()
        try:
            client = runner.call(lambda: Client(url, **options))
        except BaseException:
            runner.stop()
            raise
        super().__init__(runner, client)
        self._client = client
        self.io = _BlockingManager(runner, client.io)

    def socket(self, namespace: str, *, auth: Auth = None) -> BlockingClientSocket:
        """A socket for another namespace on the same connection; call ``connect()``."""
        socket = self._runner.call(lambda: self._client.socket(namespace, auth=auth))
        return BlockingClientSocket(self._runner, socket)

    def close(self) -> None:
        """Disconnect every socket, close the connection and stop the loop thread."""
        if self._runner.loop.is_closed():
            return
        try:
            self._runner.run(self._client.close())
        finally:
            self._runner.stop()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the connection is closed for good (see ``Client.wait``)."""
        self._runner.run(self._client.wait(), timeout)

    def sleep(self, seconds: float) -> None:
        """Sleep without holding anything (handlers keep running on their thread)."""
        self._runner.run(asyncio.sleep(seconds))

    def __enter__(self) -> BlockingClient:
        try:
            self.connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["BlockingClient", "BlockingClientSocket"]
