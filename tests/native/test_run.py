"""``socketeer.run`` and ``python -m socketeer run``, in a child process: serve, then stop on
SIGINT or SIGTERM (held polls answered, connections closed, exit status 0)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from socketeer.cli import LoadError, load

from .helpers import POLL, Conn, open_sid

TIMEOUT = 10.0

APP = """
import socketeer

io = socketeer.Server()
engine = socketeer.EngineServer()

def make():
    return socketeer.EngineServer()

not_a_server = 42
"""


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "native_app.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    return tmp_path


class Child:
    """A ``python -m socketeer run ...`` process; killed by PID at teardown."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []

    async def line_matching(self, pattern: str) -> re.Match[str]:
        stream = self.process.stderr
        assert stream is not None
        async with asyncio.timeout(TIMEOUT):
            while True:
                line = (await stream.readline()).decode()
                if not line:
                    raise AssertionError(f"exited without printing {pattern!r}: {self.output}")
                self.output.append(line)
                found = re.search(pattern, line)
                if found:
                    return found

    async def exit_code(self) -> int:
        async with asyncio.timeout(TIMEOUT):
            stream = self.process.stderr
            assert stream is not None
            self.output.extend((await stream.read()).decode().splitlines())
            return await self.process.wait()


@pytest.fixture
async def child(app_dir: Path) -> AsyncIterator[type[Child]]:
    started: list[Child] = []

    class Started(Child):
        def __init__(self, process: asyncio.subprocess.Process) -> None:
            super().__init__(process)
            started.append(self)

    yield Started
    for c in started:
        if c.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(c.process.pid, signal.SIGKILL)
            await c.process.wait()


async def spawn(child: type[Child], *args: str) -> Child:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "socketeer",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    return child(process)


@pytest.mark.parametrize(
    ("spec", "extra", "endpoint", "sig"),
    [
        ("native_app:io", [], "/socket.io/", signal.SIGTERM),
        ("native_app:engine", ["--no-uvloop"], "/engine.io/", signal.SIGINT),
        ("native_app:make", ["--factory", "--path", "/rt"], "/rt/", signal.SIGTERM),
    ],
)
async def test_run_until_a_signal(
    child: type[Child], spec: str, extra: list[str], endpoint: str, sig: signal.Signals
) -> None:
    proc = await spawn(child, "run", spec, "--port", "0", *extra)
    url = (await proc.line_matching(r"serving on (http://\S+)")).group(1)
    held = await Conn.open(url)
    try:
        target = endpoint + POLL.split("/", 2)[2]
        sid = open_sid(await held.call("GET", target))
        held.send(held.request("GET", f"{target}&sid={sid}"))  # held by the server
        await asyncio.sleep(0.1)  # the poll reaches the child (no event crosses processes)
        proc.process.send_signal(sig)
        response = await held.response()
        assert response.headers["connection"] == "close"
        assert response.text.startswith("1") or response.text.startswith("4")
        assert await held.eof() == b""
    finally:
        await held.close()
    assert await proc.exit_code() == 0, proc.output
    assert any("shutting down" in line for line in proc.output)


async def test_second_signal_drops_the_connections(child: type[Child]) -> None:
    proc = await spawn(child, "run", "native_app:engine", "--port", "0")
    url = (await proc.line_matching(r"serving on (http://\S+)")).group(1)
    conn = await Conn.open(url)
    try:
        conn.send(b"GET /never-finished HTTP/1.1\r\n")  # keeps the shutdown waiting
        await asyncio.sleep(0.1)
        proc.process.send_signal(signal.SIGTERM)
        await proc.line_matching("shutting down")
        proc.process.send_signal(signal.SIGTERM)
        assert await conn.eof() == b""
    finally:
        await conn.close()
    assert await proc.exit_code() == 0, proc.output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "expected MODULE:ATTR"),
        ("missing_module:io", "cannot import 'missing_module'"),
        ("native_app:nothing", "has no attribute 'nothing'"),
        ("native_app:not_a_server", "is a int, not an EngineServer"),
    ],
)
async def test_bad_app_spec(child: type[Child], spec: str, message: str) -> None:
    proc = await spawn(child, "run", spec)
    assert await proc.exit_code() == 2
    assert any(message in line for line in proc.output), proc.output


def test_load(app_dir: Path) -> None:
    import socketeer

    assert isinstance(load("native_app:engine"), socketeer.EngineServer)
    assert isinstance(load("native_app:io"), socketeer.Server)
    with pytest.raises(LoadError, match="not callable"):
        load("native_app:not_a_server", factory=True)
