"""The golden vectors of the cluster formats are what the JS packages publish.

``tests/vectors/cluster_wire.json`` (used by ``tests/adapters/test_wire_vectors.py`` without
Node) is regenerated here by ``js/cluster_vectors.mjs`` from ``@socket.io/redis-adapter``,
``socket.io-adapter`` and ``@socket.io/redis-emitter`` as installed, and must not differ.
"""

from __future__ import annotations

import json
from pathlib import Path

from .node import run_node

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "cluster_wire.json"


async def test_golden_vectors_are_what_the_packages_publish() -> None:
    async with run_node("cluster_vectors") as script:
        assert await script.expect_exit() == 0
    assert json.loads("\n".join(script.stdout_lines)) == json.loads(VECTORS.read_text())
