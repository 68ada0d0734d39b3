"""Fixtures of the browser tests: Chromium driven by Playwright, and the demo server.

``browser``: a Chromium (``/usr/bin/chromium``, headless, fresh profile) driven by
``tests/interop/js/browser.mjs`` through the ``node`` fixture; ``page = await
browser.open("a", url)`` gives a page in its own browser context. A failed command fails
the test with a screenshot of every page in ``test-artifacts/browser/``.

``demo``: the chat demo (``examples/chat``) served by uvicorn in the test's event loop, on
a port that ``await demo.restart()`` keeps: the test can stop the server and start a new
one (fresh state) where the pages reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import shutil
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.conftest import _ErrorRecords, _TestServer
from tests.interop.conftest import node
from tests.interop.node import NodeScript, NodeScripts

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
COMMAND_TIMEOUT = 10.0
ADMIN_PASSWORD = "correct horse"

_HERE = Path(__file__).resolve().parent

__all__ = ["node"]  # re-exported: the browser fixture runs on the interop Node harness


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/browser/ drives Chromium: mark it ``browser``."""
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.browser)


def load_demo() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import examples.chat

    return examples.chat


def artifact(name: str) -> Path:
    """A path under test-artifacts/browser/ (created)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


class BrowserError(AssertionError):
    """A browser command failed."""


class Page:
    """One page (in its own browser context) of a ``Browser``."""

    def __init__(self, browser: Browser, label: str) -> None:
        self.browser = browser
        self.label = label

    async def call(self, cmd: str, **fields: Any) -> Any:
        return await self.browser.call(cmd, page=self.label, **fields)

    async def goto(self, url: str) -> None:
        await self.call("goto", url=url)

    async def click(self, selector: str, text: str | None = None) -> None:
        await self.call("click", selector=selector, text=text)

    async def fill(self, selector: str, value: str) -> None:
        await self.call("fill", selector=selector, value=value)

    async def type(self, selector: str, text: str) -> None:
        await self.call("type", selector=selector, keys=text)

    async def press(self, selector: str, key: str) -> None:
        await self.call("press", selector=selector, key=key)

    async def wait(
        self,
        selector: str,
        text: str | None = None,
        *,
        state: str = "visible",
        timeout: float = COMMAND_TIMEOUT,  # noqa: ASYNC109 - a per-call bound is the point
    ) -> str | None:
        """Wait for an element (containing ``text``); return its text."""
        value = await self.call(
            "wait", selector=selector, text=text, state=state, timeout=int(timeout * 1000)
        )
        return value if isinstance(value, str) else None

    async def count(self, selector: str) -> int:
        return int(await self.call("count", selector=selector))

    async def eval(self, expression: str) -> Any:
        return await self.call("eval", expression=expression)

    async def wait_for(self, expression: str, timeout: float = COMMAND_TIMEOUT) -> None:  # noqa: ASYNC109
        """Wait until the JavaScript ``expression`` is truthy in the page."""
        await self.call("wait_for_function", expression=expression, timeout=int(timeout * 1000))

    async def set_file(self, selector: str, name: str, mime: str, data: bytes) -> None:
        import base64

        await self.call(
            "set_files",
            selector=selector,
            name=name,
            mime=mime,
            base64=base64.b64encode(data).decode(),
        )

    async def screenshot(self, name: str) -> Path:
        path = artifact(name)
        await self.call("screenshot", path=str(path))
        return path

    def websockets(self) -> list[str]:
        """The URLs of the WebSockets this page opened so far."""
        return [e["url"] for e in self.browser.script.seen(f"{self.label}:websocket")]

    def errors(self) -> list[str]:
        """Uncaught page errors so far."""
        return [e["message"] for e in self.browser.script.seen(f"{self.label}:pageerror")]


class Browser:
    """Chromium, driven by ``js/browser.mjs``."""

    def __init__(self, script: NodeScript, name: str) -> None:
        self.script = script
        self.name = name
        self.pages: dict[str, Page] = {}
        self._refs = itertools.count(1)
        self._failing = False

    async def call(self, cmd: str, **fields: Any) -> Any:
        ref = next(self._refs)
        timeout = float(fields.get("timeout") or COMMAND_TIMEOUT * 1000) / 1000
        await self.script.send({"cmd": cmd, "ref": ref, **fields})
        answer = await self.script.expect(f"result:{ref}", timeout=timeout + 10.0)
        if not answer["ok"]:
            shots = await self.screenshots("failure")
            raise BrowserError(f"{cmd} {fields!r} failed: {answer['error']}\nscreenshots: {shots}")
        return answer["value"]

    async def open(
        self, label: str, url: str | None = None, *, width: int = 1200, height: int = 760
    ) -> Page:
        page = Page(self, label)
        self.pages[label] = page
        await self.call("open", page=label, url=url, viewport={"width": width, "height": height})
        return page

    async def screenshots(self, prefix: str) -> list[str]:
        """A screenshot of every page (best effort: used when a test fails)."""
        if self._failing:
            return []
        self._failing = True
        taken: list[str] = []
        try:
            for label in list(self.pages):
                path = artifact(f"{self.name}-{prefix}-{label}.png")
                ref = next(self._refs)
                await self.script.send(
                    {"cmd": "screenshot", "ref": ref, "page": label, "path": str(path)}
                )
                with contextlib.suppress(AssertionError):
                    answer = await self.script.expect(f"result:{ref}", timeout=5.0)
                    if answer["ok"]:
                        taken.append(str(path))
        finally:
            self._failing = False
        return taken


def _installed() -> bool:
    return CHROMIUM.exists() and shutil.which("node") is not None


def test_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")


@pytest.fixture
async def browser(node: NodeScripts, request: pytest.FixtureRequest) -> AsyncIterator[Browser]:
    """A headless Chromium; pages with ``await browser.open(label, url)``."""
    if not _installed():
        pytest.fail(f"{CHROMIUM} (apt-get install chromium) and node are needed: run scripts/test")
    options = {"executable": str(CHROMIUM), "timeout": int(COMMAND_TIMEOUT * 1000)}
    script = await node("browser", json.dumps(options))
    await script.expect("ready", timeout=30.0)
    yield Browser(script, test_name(request))
    await script.stop(grace=10.0)


class Demo:
    """The chat demo under uvicorn, on one port across restarts."""

    def __init__(self, make_app: Callable[[], Any]) -> None:
        self.make_app = make_app
        self.port = 0
        self.errors = _ErrorRecords()
        self._server: _TestServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        """Serve a new app (fresh state) on the port (a free one the first time)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.make_app(),
            lifespan="on",
            log_level="warning",
            log_config=None,
            ws="websockets-sansio",
            timeout_graceful_shutdown=5,
        )
        server = _TestServer(config)
        self._server, self._sock = server, sock
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="demo uvicorn")
        ready = asyncio.create_task(server.ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, self._task}, timeout=10.0, return_when="FIRST_COMPLETED"
            )
        finally:
            ready.cancel()
        if ready not in done:
            raise RuntimeError("the demo server did not start")
        return self.url

    async def stop(self) -> None:
        server, task, sock = self._server, self._task, self._sock
        self._server = self._task = self._sock = None
        if server is None or task is None or sock is None:
            return
        server.should_exit = True
        try:
            async with asyncio.timeout(10.0):
                await task
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise
        finally:
            sock.close()

    async def restart(self) -> str:
        """Stop the server (clients see it go away) and serve a fresh app on the port."""
        await self.stop()
        return await self.start()


@pytest.fixture
async def demo() -> AsyncIterator[Demo]:
    """The chat demo (admin password ``ADMIN_PASSWORD``); ``await demo.start()`` serves it."""
    chat = load_demo()
    missing = chat.missing_packages()
    if missing:
        pytest.fail(f"{missing} not installed in examples/chat: run scripts/test (npm ci there)")
    server = Demo(lambda: chat.create_app(admin_password=ADMIN_PASSWORD))
    uvicorn_logger = logging.getLogger("uvicorn")
    uvicorn_logger.addHandler(server.errors)
    try:
        yield server
        await server.stop()
    finally:
        uvicorn_logger.removeHandler(server.errors)
    if server.errors.records:
        pytest.fail(
            "uvicorn logged errors:\n" + "\n".join(r.getMessage() for r in server.errors.records)
        )
