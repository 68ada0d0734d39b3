"""A small event emitter shared by every layer above the cores.

Handlers may be plain functions or coroutine functions. Exceptions raised by user handlers
are logged and never propagate into the protocol machinery.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

logger = logging.getLogger("socketeer")

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)


class Emitter:
    """A tiny event emitter: handlers may be plain functions or coroutine functions."""

    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...

    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Register ``handler`` for ``event``; without a handler, work as a decorator."""
        if handler is None:

            def decorator(func: H) -> H:
                self._handlers.setdefault(event, []).append(func)
                return func

            return decorator
        self._handlers.setdefault(event, []).append(handler)
        return handler

    def off(self, event: str, handler: Handler | None = None) -> None:
        """Remove one handler, or every handler of ``event``."""
        if handler is None:
            self._handlers.pop(event, None)
        elif handler in self._handlers.get(event, ()):
            self._handlers[event].remove(handler)

    def _emit(self, event: str, *args: Any) -> list[Awaitable[Any]]:
        """Call the handlers; return the awaitables that async handlers produced."""
        pending: list[Awaitable[Any]] = []
        for handler in tuple(self._handlers.get(event, ())):
            awaitable = invoke(handler, args, event)
            if awaitable is not None:
                pending.append(awaitable)
        return pending

    def _emit_background(self, event: str, *args: Any) -> None:
        if event not in self._handlers:
            return  # the common case on hot paths: nobody listens
        for awaitable in self._emit(event, *args):
            spawn(awaitable, event)


def invoke(handler: Handler, args: tuple[Any, ...], what: str) -> Awaitable[Any] | None:
    """Call a user handler; log what it raises; return its result when it is awaitable."""
    try:
        result = handler(*args)
    except Exception:  # a user handler failed; the caller must go on
        logger.exception("error in %r handler", what)
        return None
    return result if result is not None and inspect.isawaitable(result) else None


def call_in_background(handler: Handler, *args: Any, what: str = "callback") -> None:
    """Call a user handler; when it returns an awaitable, run that in the background."""
    awaitable = invoke(handler, args, what)
    if awaitable is not None:
        spawn(awaitable, what)


_background: set[asyncio.Task[Any]] = set()


def spawn(awaitable: Awaitable[Any], what: str) -> None:
    """Run ``awaitable`` in the background; its exceptions are logged, never lost."""

    async def run() -> None:
        try:
            await awaitable
        except Exception:  # a user handler failed; the server must go on
            logger.exception("error in %r handler", what)

    task = asyncio.get_running_loop().create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)


AnyHandler = Callable[..., Any]


class CatchAll:
    """Catch-all listeners (JS ``onAny`` and friends), shared by server and client sockets.

    The class using it provides the ``_any`` and ``_any_outgoing`` lists (in its slots).
    """

    __slots__ = ()
    _any: list[AnyHandler]
    _any_outgoing: list[AnyHandler]

    def on_any(self, handler: AnyHandler) -> AnyHandler:
        """Call ``handler(event, *args)`` for every incoming event."""
        self._any.append(handler)
        return handler

    def prepend_any(self, handler: AnyHandler) -> AnyHandler:
        """Like ``on_any``, but before the other catch-all listeners."""
        self._any.insert(0, handler)
        return handler

    def off_any(self, handler: AnyHandler | None = None) -> None:
        """Remove one catch-all listener, or all of them."""
        _remove(self._any, handler)

    def listeners_any(self) -> list[AnyHandler]:
        """The catch-all listeners."""
        return list(self._any)

    def on_any_outgoing(self, handler: AnyHandler) -> AnyHandler:
        """Call ``handler(event, *args)`` for every event sent to the peer."""
        self._any_outgoing.append(handler)
        return handler

    def prepend_any_outgoing(self, handler: AnyHandler) -> AnyHandler:
        """Like ``on_any_outgoing``, but first."""
        self._any_outgoing.insert(0, handler)
        return handler

    def off_any_outgoing(self, handler: AnyHandler | None = None) -> None:
        """Remove one outgoing catch-all listener, or all of them."""
        _remove(self._any_outgoing, handler)

    def listeners_any_outgoing(self) -> list[AnyHandler]:
        """The outgoing catch-all listeners."""
        return list(self._any_outgoing)


def _remove(handlers: list[AnyHandler], handler: AnyHandler | None) -> None:
    if handler is None:
        handlers.clear()
    elif handler in handlers:
        handlers.remove(handler)


__all__ = ["AnyHandler", "CatchAll", "Emitter", "Handler", "call_in_background", "invoke", "spawn"]
