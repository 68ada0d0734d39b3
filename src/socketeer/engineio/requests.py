"""Turn an HTTP request into a typed Engine.IO request, or a typed error.

The error codes and messages are the official ones (engine.io ``Server.errors``):
0 Transport unknown, 1 Session ID unknown, 2 Bad handshake method, 3 Bad request,
4 Forbidden, 5 Unsupported protocol version. They are answered as JSON
``{"code":N,"message":"..."}`` with HTTP 400, or 403 for Forbidden.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from .._types import SessionId
from .config import EngineConfig, Transport

PROTOCOL_VERSION = "4"


class ErrorCode(IntEnum):
    """The official Engine.IO request error codes."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


ERROR_MESSAGES: Mapping[ErrorCode, str] = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


@dataclass(frozen=True, slots=True)
class EngineError:
    """A refused request: the official code, the message sent, and a note for logs."""

    code: ErrorCode
    message: str
    context: str = ""

    @classmethod
    def of(cls, code: ErrorCode, context: str = "", message: str | None = None) -> EngineError:
        """The error with ``code`` and its official message (or ``message``)."""
        return cls(code, ERROR_MESSAGES[code] if message is None else message, context)

    @property
    def status(self) -> int:
        """The HTTP status: 403 for Forbidden, 400 otherwise."""
        return 403 if self.code is ErrorCode.FORBIDDEN else 400

    def body(self) -> bytes:
        """The JSON body ``{"code":N,"message":"..."}``, as the JS server sends it.

        For code 5 a ``context`` member says which version is supported: the JS client
        only reads ``code`` and ``message``, and a person reading the answer learns why.
        """
        body: dict[str, object] = {"code": int(self.code), "message": self.message}
        if self.code is ErrorCode.UNSUPPORTED_PROTOCOL_VERSION:
            body["context"] = {"supported": [int(PROTOCOL_VERSION)], "detail": self.context}
        return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """A request that passed the checks that need no session.

    ``sid`` is None for a handshake. ``websocket`` is True for a WebSocket upgrade request.
    """

    method: str
    transport: Transport
    sid: SessionId | None
    websocket: bool


def parse_request(
    *,
    method: str,
    query: Mapping[str, str],
    websocket: bool,
    config: EngineConfig,
) -> EngineRequest | EngineError:
    """Check a request's method and query, in the order the JS server checks them.

    Args:
        method: the HTTP method, upper case (``GET`` for a WebSocket upgrade).
        query: the query parameters, first value of each.
        websocket: whether the request asks for a WebSocket.
        config: the server options (allowed transports).
    """
    raw_transport = query.get("transport", "")
    # Peer-chosen names are only compared against the enum's values, never used as attributes.
    transport = next((t for t in config.transports if t.value == raw_transport), None)
    if transport is None:
        return EngineError.of(ErrorCode.UNKNOWN_TRANSPORT, f"transport {raw_transport!r}")
    version = query.get("EIO")
    if version != PROTOCOL_VERSION:
        return EngineError.of(
            ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
            f"EIO={version!r}; this server supports EIO={PROTOCOL_VERSION} only",
        )
    if websocket != (transport is Transport.WEBSOCKET):
        return EngineError.of(ErrorCode.BAD_REQUEST, "transport does not match the request")
    raw_sid = query.get("sid")
    if raw_sid is None:
        if method != "GET":
            return EngineError.of(ErrorCode.BAD_HANDSHAKE_METHOD, f"method {method!r}")
        return EngineRequest(method, transport, None, websocket)
    if method not in ("GET", "POST") or (websocket and method != "GET"):
        return EngineError.of(ErrorCode.BAD_REQUEST, f"method {method!r}")
    return EngineRequest(method, transport, SessionId(raw_sid), websocket)


__all__ = [
    "ERROR_MESSAGES",
    "PROTOCOL_VERSION",
    "EngineError",
    "EngineRequest",
    "ErrorCode",
    "parse_request",
]
