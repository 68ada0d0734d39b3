"""The docs samples run against the official socket.io-client: reuse the Node harness."""

from __future__ import annotations

from tests.interop.conftest import node

__all__ = ["node"]
