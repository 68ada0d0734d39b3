"""The chat demo: rooms, typing indicators, delivery ticks, images, reconnection and
recovery, in the browser with the official socket.io-client; plus the official admin
dashboard at ``/admin/``.

Run ``scripts/demo`` (or ``python -m examples.chat`` once ``scripts/demo`` has set things
up) and open http://127.0.0.1:3000.
"""

from __future__ import annotations

from .app import chat_server, create_app, missing_packages

__all__ = ["chat_server", "create_app", "missing_packages"]
