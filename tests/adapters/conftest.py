"""Fixtures of the adapter tests (see ``helpers.py``)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Sequence

import pytest

from socketeer.adapters import _wire as wire

pytest.register_assert_rewrite(f"{__package__}.helpers")

from .helpers import REDIS_HOST, REDIS_PORT  # noqa: E402


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``fixed_ids(uid2=[...], hex=[...])``: the next ids the adapters draw."""

    def install(*, uid2: Sequence[str] = (), hex: Sequence[str] = ()) -> None:
        uid2_ids = iter(uid2)
        hex_ids = iter(hex)
        monkeypatch.setattr(wire, "uid2", lambda length: next(uid2_ids))
        monkeypatch.setattr(wire, "random_hex_id", lambda: next(hex_ids))

    return install


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis; the tests using it are skipped when nothing listens there."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1.0):
            pass
    except OSError:
        pytest.skip(f"no Redis on {REDIS_HOST}:{REDIS_PORT} (scripts/test starts one)")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def prefix() -> str:
    """A channel prefix (key) of this test only."""
    return f"sk-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fake_ids() -> Callable[[str], str]:
    """``sid("a")``: a 20-character socket id starting with the label."""

    def make(label: str) -> str:
        return (label + "_" * 20)[:20]

    return make
