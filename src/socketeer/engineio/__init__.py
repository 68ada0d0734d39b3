"""Engine.IO v4, sans-I/O: packets, polling payloads, request checks and the session machine.

Nothing here opens a socket, starts a task or reads a clock.
"""

from __future__ import annotations

from .config import EngineConfig, Transport
from .events import (
    CloseReason,
    Event,
    MessageReceived,
    SessionClosed,
    UpgradeAborted,
    UpgradeCompleted,
)
from .packets import Packet, PacketType, decode_packet, encode_packet, encode_packet_text
from .payload import SEPARATOR, decode_payload, encode_payload
from .requests import (
    ERROR_MESSAGES,
    PROTOCOL_VERSION,
    EngineError,
    EngineRequest,
    ErrorCode,
    parse_request,
)
from .server import ServerSession, SessionState, check_session

__all__ = [
    "ERROR_MESSAGES",
    "PROTOCOL_VERSION",
    "SEPARATOR",
    "CloseReason",
    "EngineConfig",
    "EngineError",
    "EngineRequest",
    "ErrorCode",
    "Event",
    "MessageReceived",
    "Packet",
    "PacketType",
    "ServerSession",
    "SessionClosed",
    "SessionState",
    "Transport",
    "UpgradeAborted",
    "UpgradeCompleted",
    "check_session",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_packet_text",
    "encode_payload",
    "parse_request",
]
