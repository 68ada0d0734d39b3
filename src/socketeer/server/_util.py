"""Small helpers of the Socket.IO runtime."""

from __future__ import annotations

import base64
import os
from collections.abc import Generator, Sequence
from typing import Any


def new_id() -> str:
    """A 20-character URL-safe random id (socket ids, like the JS base64id)."""
    return base64.urlsafe_b64encode(os.urandom(15)).decode("ascii")


class Done:
    """An awaitable that is already complete.

    Operations that finish at once (an emit to local sockets, a join) return it, so users
    may ``await`` them or not; nothing is left pending either way.
    """

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator

    def __bool__(self) -> bool:
        return True


DONE = Done()


def ack_args(result: Any) -> list[Any]:
    """The ACK arguments for a handler's return value: None -> none, a tuple -> several."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


def ack_result(args: Sequence[Any]) -> Any:
    """What ``emit_with_ack`` returns for the ACK arguments: None, the one value, or a tuple."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


__all__ = ["DONE", "Done", "ack_args", "ack_result", "new_id"]
