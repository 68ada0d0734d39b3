"""The echo demo (examples/echo) serves its page, the official client bundle, and echoes."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from .node import EngineClientFactory, NodeScripts

ROOT = Path(__file__).resolve().parents[2]


def load_demo() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("examples.echo")


async def test_demo_page_bundle_and_echo(
    serve_asgi: Any, node: NodeScripts, engine_client: EngineClientFactory
) -> None:
    url = await serve_asgi(load_demo().create_app())
    probe = await node("probe")
    await probe.send({"cmd": "fetch", "url": f"{url}/"})
    page = await probe.expect("response")
    assert page["status"] == 200
    assert '<script src="/engine.io.js"></script>' in page["body"]
    await probe.send({"cmd": "fetch", "url": f"{url}/engine.io.js"})
    bundle = await probe.expect("response")
    assert bundle["status"] == 200
    assert bundle["body"].startswith("/*!\n * Engine.IO v6.6.8")
    await probe.send({"cmd": "fetch", "url": f"{url}/missing"})
    assert (await probe.expect("response"))["status"] == 404

    client = await engine_client(url)
    opened = await client.expect("open")
    assert (await client.expect("message"))["data"] == f"welcome, {opened['sid']}"
    await client.send({"cmd": "send", "data": "hi demo"})
    assert (await client.expect("message"))["data"] == "hi demo"
