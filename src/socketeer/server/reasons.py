"""Why a Socket.IO socket disconnected, with the exact strings of the JS implementation."""

from __future__ import annotations

from enum import StrEnum


class DisconnectReason(StrEnum):
    """Disconnect reasons reported by ``disconnecting`` / ``disconnect`` events."""

    IO_SERVER_DISCONNECT = "io server disconnect"
    IO_CLIENT_DISCONNECT = "io client disconnect"
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"
    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    SERVER_SHUTTING_DOWN = "server shutting down"
    FORCED_CLOSE = "forced close"
    FORCED_SERVER_CLOSE = "forced server close"


__all__ = ["DisconnectReason"]
