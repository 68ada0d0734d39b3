"""What the Python servers of the benchmark share: options, the event loop, uvicorn.

Every server answers the same three events (see ``bench/README.md``): ``echo`` acknowledges
with its arguments, ``join`` joins room ``room`` then acknowledges, ``broadcast`` emits
``news`` to room ``room``. Engine.IO settings are the socket.io defaults everywhere (ping
25 s / 20 s, 1 MB buffers, no compression), and nothing logs below warnings.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from typing import Any

PING_INTERVAL = 25.0
PING_TIMEOUT = 20.0
MAX_BUFFER = 1_000_000
BACKLOG = 2048
ROOM = "room"


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail unless uvloop and httptools are installed (the bench venv has them)",
    )
    return parser.parse_args()


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def require_fast(strict: bool) -> None:
    missing = [name for name in ("uvloop", "httptools") if not have(name)]
    if missing and strict:
        sys.exit(f"bench server: {', '.join(missing)} missing (run scripts/bench)")


def run_uvicorn(app: Any, args: argparse.Namespace) -> None:
    """uvicorn, configured alike for every ASGI server under test."""
    import uvicorn

    require_fast(args.strict)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop" if have("uvloop") else "asyncio",
        http="httptools" if have("httptools") else "h11",
        ws="websockets-sansio",  # the fastest pure-ASGI WebSocket of uvicorn
        ws_max_size=MAX_BUFFER,
        ws_ping_interval=None,  # Engine.IO pings; no second heartbeat below it
        ws_ping_timeout=None,
        ws_per_message_deflate=False,
        lifespan="on",
        log_level="warning",
        access_log=False,
        backlog=BACKLOG,
        timeout_graceful_shutdown=2,
    )
