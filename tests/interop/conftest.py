"""Fixtures for the Node interop tests: ``node`` starts scripts of ``tests/interop/js/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .node import EngineClientFactory, NodeScripts

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/interop/ drives Node: mark it ``interop``."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.interop)


@pytest.fixture
async def node(serve_asgi: Any, serve_native: Any) -> AsyncIterator[NodeScripts]:
    """Start Node scripts: ``proc = await node("engine_client", url, options_json)``.

    Depends on ``serve_asgi`` and ``serve_native`` so that the scripts are stopped before
    the servers they talk to (teardown runs in reverse order of setup).
    """
    scripts = NodeScripts()
    try:
        yield scripts
    finally:
        await scripts.stop_all()


@pytest.fixture
def engine_client(node: NodeScripts) -> EngineClientFactory:
    """Start ``js/engine_client.mjs``: ``client = await engine_client(url, transports=[...])``."""
    return EngineClientFactory(node)
