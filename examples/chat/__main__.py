"""``python -m examples.chat``: serve the chat demo (``--help`` lists the options)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import secrets
import socket
import sys
from urllib.parse import urlsplit

import uvicorn

from socketeer.server.server import AdapterFactory

from .app import NODE_MODULES, create_app, iter_urls, missing_packages


class RedisUnavailable(Exception):
    """``--redis`` cannot be honoured."""


def redis_adapter(url: str) -> AdapterFactory:
    """The Redis adapter for ``url`` (``socketeer.adapters.redis.create_adapter``): every
    demo server started with the same URL serves one chat."""
    try:
        module = importlib.import_module("socketeer.adapters.redis")
        create_adapter = module.create_adapter
    except ModuleNotFoundError as exc:
        if exc.name == "socketeer.adapters.redis":
            raise RedisUnavailable(
                "--redis: the Redis adapter (socketeer.adapters.redis) is not available yet; "
                "run without --redis to use the in-memory adapter"
            ) from None
        raise RedisUnavailable(
            f"--redis: the Redis adapter needs {exc.name!r}: pip install 'socketeer[redis]'"
        ) from None
    except AttributeError:
        raise RedisUnavailable(
            "--redis: socketeer.adapters.redis has no create_adapter() yet; "
            "run without --redis to use the in-memory adapter"
        ) from None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise RedisUnavailable(f"--redis: {url!r} is not a redis:// URL")
    address = (parts.hostname, parts.port or 6379)
    try:
        with socket.create_connection(address, timeout=3.0):
            pass
    except OSError as exc:
        raise RedisUnavailable(
            f"--redis: nothing answers at {address[0]}:{address[1]} ({exc})"
        ) from None
    factory: AdapterFactory = create_adapter(url, key="socketeer-chat")
    return factory


class DemoServer(uvicorn.Server):
    """uvicorn, printing where it listens once it does (``--port 0`` picks a free port)."""

    def __init__(self, config: uvicorn.Config, banner: list[str]) -> None:
        super().__init__(config)
        self.banner = banner

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.should_exit or not self.servers:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        base = f"http://{host}:{port}"
        width = max(len(name) for name, _ in iter_urls(base))
        lines = [f"socketeer chat demo listening on {base}"]
        lines += [f"  {name.ljust(width)}  {url}" for name, url in iter_urls(base)]
        lines += self.banner
        print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.chat", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument(
        "--redis", metavar="URL", help="use the Redis adapter (several demo servers, one chat)"
    )
    parser.add_argument("--admin-user", default="admin", help="admin dashboard user name")
    parser.add_argument(
        "--admin-password",
        default=os.environ.get("SOCKETEER_ADMIN_PASSWORD"),
        help="admin dashboard password (default: $SOCKETEER_ADMIN_PASSWORD, else random)",
    )
    parser.add_argument(
        "--admin-read-only", action="store_true", help="the dashboard may only look"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    missing = missing_packages()
    if missing:
        parser.exit(
            1,
            f"error: {', '.join(missing)} not installed in {NODE_MODULES}: "
            "run scripts/demo (it runs npm ci in examples/chat)\n",
        )
    adapter: AdapterFactory | None = None
    adapter_name = "in-memory (--redis URL to share the chat between servers)"
    if args.redis:
        try:
            adapter = redis_adapter(args.redis)
        except RedisUnavailable as exc:
            parser.exit(2, f"error: {exc}\n")
        adapter_name = f"Redis at {args.redis} (channels socketeer-chat#...)"
    password = args.admin_password or secrets.token_urlsafe(9)
    app = create_app(
        admin_username=args.admin_user,
        admin_password=password,
        admin_read_only=args.admin_read_only,
        adapter=adapter,
    )
    banner = [
        f"  admin login: user {args.admin_user!r}, password {password!r}"
        + (" (read-only)" if args.admin_read_only else ""),
        f"  adapter: {adapter_name}",
        "Ctrl+C stops",
    ]
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
    )
    DemoServer(config, banner).run()
    sys.exit(0)


if __name__ == "__main__":
    main()
