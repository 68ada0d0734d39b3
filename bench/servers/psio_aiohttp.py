"""python-socketio (``AsyncServer``, ``async_mode="aiohttp"``) on aiohttp, on uvloop."""

from __future__ import annotations

import asyncio
import signal

from _common import BACKLOG, have, parse_args, require_fast
from aiohttp import web
from psio_uvicorn import build


async def serve(host: str, port: int) -> None:
    app = web.Application()
    build("aiohttp").attach(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=BACKLOG)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    require_fast(args.strict)
    if have("uvloop"):
        import uvloop

        uvloop.run(serve(args.host, args.port))
    else:
        asyncio.run(serve(args.host, args.port))
