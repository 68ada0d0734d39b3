"""``python -m examples.echo [--host 127.0.0.1] [--port 3000]``: serve the echo demo."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from .app import CLIENT_BUNDLE, create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.echo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not CLIENT_BUNDLE.is_file():
        parser.exit(1, f"missing {CLIENT_BUNDLE}: run `npm ci` in tests/interop first\n")
    print(f"socketeer echo demo: open http://{args.host}:{args.port}/ (Ctrl+C stops)", flush=True)
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        log_level="warning",
        ws="websockets-sansio",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
