"""Fixtures of the client runtime tests: ``make_client(url, **options)``, ``live``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytest.register_assert_rewrite(f"{__package__}.helpers")

from socketeer.client import Client  # noqa: E402

from .helpers import LiveServer, close_quietly  # noqa: E402

MakeClient = Callable[..., Client]


@pytest.fixture
async def make_client(serve_asgi: Any) -> AsyncIterator[MakeClient]:
    """``client = make_client(url, **Client options)``; every client is closed at teardown,
    before the servers of ``serve_asgi`` stop (a held long-poll would delay their stop)."""
    made: list[Client] = []

    def make(url: str, **options: Any) -> Client:
        client = Client(url, **options)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            await close_quietly(client)


@pytest.fixture
async def live() -> AsyncIterator[LiveServer]:
    """A server that a test can kill and bring back on the same port."""
    server = LiveServer()
    try:
        yield server
    finally:
        await server.kill()
