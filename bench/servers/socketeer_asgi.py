"""socketeer's ASGI front-end (``socketeer.ASGIApp``) on uvicorn."""

from __future__ import annotations

import socketeer_app
from _common import parse_args, run_uvicorn

import socketeer

if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    run_uvicorn(socketeer.ASGIApp(socketeer_app.build()), args)
