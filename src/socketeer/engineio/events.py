"""What an Engine.IO session reports to its runtime."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CloseReason(StrEnum):
    """Why a session closed, with the strings the JS engine.io server reports."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTTING_DOWN = "server shutting down"


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """The peer sent a message."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class UpgradeCompleted:
    """The session moved from polling to WebSocket."""


@dataclass(frozen=True, slots=True)
class UpgradeAborted:
    """A WebSocket probe failed or timed out; the runtime must close that WebSocket."""

    description: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The session is over. ``description`` says more, for logs and the close event."""

    reason: CloseReason
    description: str = ""


Event = MessageReceived | UpgradeCompleted | UpgradeAborted | SessionClosed

__all__ = [
    "CloseReason",
    "Event",
    "MessageReceived",
    "SessionClosed",
    "UpgradeAborted",
    "UpgradeCompleted",
]
