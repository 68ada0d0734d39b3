"""The echo demo: the official engine.io-client in a browser page, echoed by socketeer.

Run ``scripts/demo`` (or ``python -m examples.echo`` once ``scripts/demo`` has set things up)
and open http://127.0.0.1:3000.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
