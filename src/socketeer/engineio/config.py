"""Engine.IO server options, with the defaults of the JS engine.io server."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Transport(StrEnum):
    """The transports Engine.IO v4 offers (WebTransport is not supported)."""

    POLLING = "polling"
    WEBSOCKET = "websocket"


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    """Options of one Engine.IO server. Durations are seconds.

    Attributes:
        ping_interval: the server sends a ping this often (JS default 25 s).
        ping_timeout: a session whose pong does not arrive this long after the ping is closed
            with "ping timeout" (JS default 20 s).
        upgrade_timeout: a WebSocket probe that does not complete the upgrade in this time is
            dropped, and the session stays on polling (JS default 10 s).
        max_http_buffer_size: the largest POST body or WebSocket message accepted, in bytes;
            also advertised to clients as ``maxPayload`` (JS default 1,000,000).
        max_payload_packets: the most packets accepted in one polling payload.
        close_timeout: after a server-side close on polling, how long to wait for the client's
            next poll to deliver the close packet (JS: 30 s).
        transports: the transports clients may use.
        allow_upgrades: whether a polling session may upgrade to WebSocket.
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    max_http_buffer_size: int = 1_000_000
    max_payload_packets: int = 10_000
    close_timeout: float = 30.0
    transports: tuple[Transport, ...] = field(
        default=(Transport.POLLING, Transport.WEBSOCKET),
    )
    allow_upgrades: bool = True

    def __post_init__(self) -> None:
        for name in ("ping_interval", "ping_timeout", "upgrade_timeout", "close_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if self.max_http_buffer_size < 1:
            raise ValueError("max_http_buffer_size must be at least 1")
        if self.max_payload_packets < 1:
            raise ValueError("max_payload_packets must be at least 1")
        if not self.transports:
            raise ValueError("at least one transport is needed")
        object.__setattr__(self, "transports", tuple(Transport(t) for t in self.transports))

    def upgrades_for(self, transport: Transport) -> list[str]:
        """The ``upgrades`` list advertised in the handshake of a session on ``transport``."""
        if (
            transport is Transport.POLLING
            and self.allow_upgrades
            and Transport.WEBSOCKET in self.transports
        ):
            return [Transport.WEBSOCKET.value]
        return []


__all__ = ["EngineConfig", "Transport"]
