"""socketeer's native front-end: ``socketeer.run(io, host, port)`` (or
``socketeer.native.run``). Exits with status 3 while ``socketeer.native`` is missing."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from typing import Any

import socketeer_app
from _common import parse_args, require_fast

import socketeer

UNAVAILABLE = 3


async def _serve_forever(serve: Any, io: socketeer.Server, host: str, port: int) -> None:
    server = await serve(io, host, port)  # returns once listening
    try:
        await asyncio.Event().wait()  # until SIGTERM ends the process
    finally:
        close = getattr(server, "close", None)
        if close is not None:
            close()


def main() -> None:
    args = parse_args(__doc__ or "")
    try:
        native = importlib.import_module("socketeer.native")
    except ImportError as exc:
        print(f"socketeer.native is not importable: {exc}", file=sys.stderr)
        sys.exit(UNAVAILABLE)
    require_fast(args.strict)
    io = socketeer_app.build()
    run: Any = getattr(socketeer, "run", None) or getattr(native, "run", None)
    if run is not None and not inspect.iscoroutinefunction(run):
        run(io, args.host, args.port)  # blocks until SIGINT/SIGTERM
        return
    serve: Any = run or getattr(native, "serve", None)
    if serve is None:
        print("no socketeer.run, socketeer.native.run or .serve", file=sys.stderr)
        sys.exit(UNAVAILABLE)
    import uvloop

    uvloop.run(_serve_forever(serve, io, args.host, args.port))


if __name__ == "__main__":
    main()
