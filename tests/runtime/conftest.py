"""Fixtures of the runtime tests: ``harness = await start(**EngineServer options)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import pytest

import socketeer

pytest.register_assert_rewrite(f"{__package__}.helpers")

from .helpers import Harness, Start, record  # noqa: E402


class ServeASGI(Protocol):
    """The ``serve_asgi`` fixture of ``tests/conftest.py``."""

    async def __call__(self, app: Any, **config: Any) -> str: ...

    async def stop_all(self) -> None: ...


class ServeNative(Protocol):
    """The ``serve_native`` fixture of ``tests/conftest.py``."""

    async def __call__(self, io: Any, **options: Any) -> str: ...

    async def stop_all(self) -> None: ...


@pytest.fixture
async def start(
    serve_asgi: ServeASGI, serve_native: ServeNative, frontend: str
) -> AsyncIterator[Start]:
    """Serve a recording ``EngineServer``; ``await start(echo=False, app_options=..., **opts)``.

    The ``frontend`` fixture picks uvicorn + ``ASGIApp`` or the native front-end (which
    takes ``app_options={"path": ...}`` only, and ignores ``uvicorn_options``).
    Teardown closes the HTTP clients before the servers are stopped.
    """
    harnesses: list[Harness] = []

    async def start_server(
        *,
        echo: bool = True,
        app_options: dict[str, Any] | None = None,
        uvicorn_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Harness:
        harness = Harness(server=socketeer.EngineServer(**options))
        harnesses.append(harness)
        record(harness, echo=echo)
        app = socketeer.ASGIApp(harness.server, **(app_options or {}))
        harness.path = app.path
        if frontend == "native":
            harness.base_url = await serve_native(harness.server, path=app.path)
        else:
            harness.base_url = await serve_asgi(app, **(uvicorn_options or {}))
        return harness

    try:
        yield start_server
    finally:
        for harness in harnesses:
            await harness.http.aclose()
