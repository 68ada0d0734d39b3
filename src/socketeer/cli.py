"""``python -m socketeer``: the command line.

::

    python -m socketeer run MODULE:ATTR [--host 127.0.0.1] [--port 3000] [--path PATH]
                                        [--factory] [--no-uvloop] [--log-level info]

``run`` imports ``MODULE`` (the current directory comes first on ``sys.path``) and serves
``ATTR`` (an ``EngineServer`` or a Socket.IO ``Server``; with ``--factory``, a callable
returning one) with the native front-end until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from .native import Served
from .server.engine import EngineServer


class LoadError(Exception):
    """``MODULE:ATTR`` does not name something to serve."""


def _servable(value: Any) -> bool:
    return isinstance(value, EngineServer) or isinstance(
        getattr(value, "engine", None), EngineServer
    )


def load(spec: str, *, factory: bool = False) -> Served:
    """The server named by ``MODULE:ATTR`` (``ATTR`` may be dotted)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise LoadError(f"expected MODULE:ATTR, got {spec!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LoadError(f"cannot import {module_name!r}: {exc}") from exc
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise LoadError(f"{module_name!r} has no attribute {attr!r}") from None
    if factory:
        if not callable(value):
            raise LoadError(f"{spec} is not callable (--factory)")
        value = value()
    if not _servable(value):
        raise LoadError(
            f"{spec} is a {type(value).__name__}, not an EngineServer or a Socket.IO Server"
        )
    served: Served = value
    return served


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m socketeer", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="serve an EngineServer or a Socket.IO Server with the native front-end",
        description="Serve MODULE:ATTR (long-polling and WebSocket on one port) until "
        "SIGINT or SIGTERM, then shut down gracefully.",
    )
    run.add_argument("app", metavar="MODULE:ATTR", help="e.g. chat.app:io")
    run.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    run.add_argument("--port", type=int, default=3000, help="port to bind (3000; 0: any)")
    run.add_argument("--path", default=None, help="endpoint path (/socket.io/ or /engine.io/)")
    run.add_argument("--factory", action="store_true", help="ATTR is a callable returning it")
    run.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop")
    run.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="logging level (info)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        io = load(args.app, factory=args.factory)
    except LoadError as exc:
        parser.error(str(exc))
    from .native import run

    run(io, args.host, args.port, path=args.path, use_uvloop=not args.no_uvloop)
    return 0


__all__ = ["LoadError", "load", "main"]
