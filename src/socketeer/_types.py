"""Types shared by every layer: ids that must never be mixed, and the payload alias."""

from __future__ import annotations

from typing import NewType, TypeAlias

SessionId = NewType("SessionId", str)
"""An Engine.IO session id (the ``sid`` query parameter)."""

SocketId = NewType("SocketId", str)
"""A Socket.IO socket id: one per namespace connection, distinct from the session id."""

Room = str
"""A room name. A socket id is also a room (the socket's own)."""

Data: TypeAlias = (
    "bool | int | float | str | bytes | list[Data] | tuple[Data, ...] | dict[str, Data] | None"
)
"""A JSON value in which ``bytes`` may appear anywhere (sent as binary attachments)."""

EngineMessage: TypeAlias = str | bytes
"""What one Engine.IO message carries: text or binary."""

__all__ = ["Data", "EngineMessage", "Room", "SessionId", "SocketId"]
