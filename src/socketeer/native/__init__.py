"""The native front-end: HTTP/1.1 long-polling and WebSocket on one port, on uvloop.

``run(io, host, port)`` serves an ``EngineServer`` or a Socket.IO ``Server`` until SIGINT or
SIGTERM; ``await serve(io, host, port)`` returns a ``NativeServer`` to embed or test
(``close()`` / ``wait_closed()``). Needs ``httptools`` (``pip install 'socketeer[native]'``,
which also brings uvloop); importing this package does not.
"""

from __future__ import annotations

from .options import NativeOptions
from .server import HasEngine, NativeServer, Served, run, serve

__all__ = ["HasEngine", "NativeOptions", "NativeServer", "Served", "run", "serve"]
