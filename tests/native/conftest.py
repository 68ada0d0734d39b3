"""The native front-end's own tests run on asyncio's default loop and on uvloop (which
``socketeer.run`` uses): their transports differ (uvloop's do not subclass
``asyncio.Transport``, flow control and ``write_eof`` are their own code)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

try:
    import uvloop
except ImportError:  # pragma: no cover - Windows
    uvloop = None


@pytest.hookimpl(optionalhook=True)
def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if uvloop is not None and item.path.name == "test_http.py":
        factories["uvloop"] = uvloop.new_event_loop
    return factories
