"""``NativeOptions``: the limits and timeouts of the native front-end."""

from __future__ import annotations

from dataclasses import dataclass

from .websocket import DEFAULT_MAX_FRAGMENTS


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeOptions:
    """Limits and timeouts of the native front-end (see ``socketeer.native.http``).

    Attributes:
        keep_alive_timeout: seconds an idle keep-alive connection stays open (5).
        request_timeout: seconds from the first byte of a request to its last (30).
        close_timeout: seconds a closing handshake, or a lingering close, may take (3).
        max_header_size: bytes of request line and header fields (16 KiB).
        max_headers: header fields per request (100).
        max_pipelined: requests that may wait behind the one being served (16).
        max_fragments: WebSocket frames per message (1024).
        write_buffer_limit: bytes of unsent output before a connection that does not read
            is aborted (16 MiB).
        max_connections: open connections; more are closed at once (None: no limit).
        shutdown_timeout: seconds a graceful shutdown waits for connections to finish (5).
    """

    keep_alive_timeout: float = 5.0
    request_timeout: float = 30.0
    close_timeout: float = 3.0
    max_header_size: int = 16 * 1024
    max_headers: int = 100
    max_pipelined: int = 16
    max_fragments: int = DEFAULT_MAX_FRAGMENTS
    write_buffer_limit: int = 16 * 1024 * 1024
    max_connections: int | None = None
    shutdown_timeout: float = 5.0


__all__ = ["NativeOptions"]
