"""Run the Node scripts of ``tests/interop/js/`` and talk to them line by line.

A script prints one JSON object per line on stdout (``{"event": "open", ...}``) and reads
commands as JSON lines on stdin. ``NodeScript.expect("open")`` waits for the next ``open``
event that was not expected yet; events of other names are kept for later ``expect`` calls
(``events`` holds them all, in order). Every wait is bounded; a timeout or an early exit of
the process fails with everything the script printed so far, stdout and stderr.

Processes are always killed (by PID) when the ``async with`` block or the ``node`` fixture
ends; nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

INTEROP_DIR = Path(__file__).resolve().parent
JS_DIR = INTEROP_DIR / "js"
DEFAULT_TIMEOUT = 10.0
STDOUT_LIMIT = 64 * 1024 * 1024  # one line may hold a 500 KB message, hex-encoded
EXIT_TIMEOUT = 5.0

Event = dict[str, Any]


class NodeScriptError(AssertionError):
    """A Node script did not do what the test expected (timeout, early exit, bad output)."""


def big_string(size: int) -> str:
    """The text ``{"cmd": "send_big", "size": size}`` makes the scripts send."""
    pattern = "abcdefghijklmnopqrstuvwxyz"
    return (pattern * (size // len(pattern) + 1))[:size]


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise NodeScriptError("`node` is not on PATH; the interop tests need Node >= 18")
    if not (INTEROP_DIR / "node_modules").is_dir():
        raise NodeScriptError(f"run `npm ci` in {INTEROP_DIR} first (scripts/test does it)")
    return node


class NodeScript:
    """One running Node script. Create it with :func:`run_node` or the ``node`` fixture."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self.events: list[Event] = []
        self.stdout_lines: list[str] = []
        self.stderr_chunks: list[str] = []
        self._consumed: set[int] = set()
        self._changed = asyncio.Condition()
        self._stdout_done = False
        self._readers = [
            asyncio.create_task(self._read_stdout(), name=f"node {name} stdout"),
            asyncio.create_task(self._read_stderr(), name=f"node {name} stderr"),
        ]

    @property
    def pid(self) -> int:
        return self.process.pid

    # ---- reading -------------------------------------------------------------------------

    async def _read_stdout(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                raw = await stream.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stdout_lines.append(line)
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if not isinstance(event, dict) or not isinstance(event.get("event"), str):
                    event = {"event": "_unparsed", "line": line}
                async with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        finally:
            async with self._changed:
                self._stdout_done = True
                self._changed.notify_all()

    async def _read_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        while chunk := await stream.read(65536):
            self.stderr_chunks.append(chunk.decode("utf-8", "replace"))

    # ---- waiting for events --------------------------------------------------------------

    def seen(self, event: str) -> list[Event]:
        """All events named ``event`` printed so far (expected or not)."""
        return [e for e in self.events if e["event"] == event]

    def _take(self, event: str) -> Event | None:
        for index, candidate in enumerate(self.events):
            if index not in self._consumed and candidate["event"] == event:
                self._consumed.add(index)
                return candidate
        return None

    # A per-call bound is the point of these helpers (ASYNC109 prefers asyncio.timeout()).
    async def expect(self, event: str, timeout: float = DEFAULT_TIMEOUT) -> Event:  # noqa: ASYNC109
        """Wait for the next not-yet-expected event named ``event`` and return it."""
        found: Event | None = None

        def ready() -> bool:
            nonlocal found
            found = self._take(event)
            return found is not None or self._stdout_done

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            raise self._failure(f"no {event!r} event within {timeout} s") from None
        if found is None:
            await self._settle()
            raise self._failure(f"the script ended before printing a {event!r} event")
        return found

    async def expect_exit(self, timeout: float = DEFAULT_TIMEOUT) -> int:  # noqa: ASYNC109
        """Wait for the process to exit by itself; return its exit code."""
        try:
            async with asyncio.timeout(timeout):
                code = await self.process.wait()
        except TimeoutError:
            raise self._failure(f"still running after {timeout} s") from None
        await self._settle()
        return code

    # ---- commands ------------------------------------------------------------------------

    async def send(self, command: Mapping[str, Any]) -> None:
        """Write ``command`` as one JSON line to the script's stdin."""
        stdin = self.process.stdin
        assert stdin is not None
        if self.process.returncode is not None or stdin.is_closing():
            await self._settle()
            raise self._failure(f"cannot send {command!r}: the script has ended")
        stdin.write(json.dumps(command).encode() + b"\n")
        try:
            async with asyncio.timeout(DEFAULT_TIMEOUT):
                await stdin.drain()
        except (ConnectionError, TimeoutError) as exc:
            await self._settle()
            raise self._failure(f"cannot send {command!r}: {exc!r}") from None

    async def close_stdin(self) -> None:
        """End the script's stdin (the scripts close their sockets and exit)."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.close()
            with contextlib.suppress(ConnectionError):
                await stdin.wait_closed()

    # ---- teardown and reporting ----------------------------------------------------------

    async def _settle(self) -> None:
        """After stdout ended: collect the exit code and the rest of stderr (bounded)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self.process.wait()
                await asyncio.gather(*self._readers, return_exceptions=True)

    async def stop(self, grace: float = EXIT_TIMEOUT) -> None:
        """Close stdin, give the script ``grace`` seconds to exit, then kill it by PID."""
        try:
            if self.process.returncode is None:
                await self.close_stdin()
                try:
                    async with asyncio.timeout(grace):
                        await self.process.wait()
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        self.process.kill()  # SIGKILL to self.process.pid
                    await self.process.wait()
        finally:
            if self.process.returncode is None:  # cancelled above: still kill it
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
            for reader in self._readers:
                if not reader.done():
                    reader.cancel()
            await asyncio.gather(*self._readers, return_exceptions=True)

    def output(self) -> str:
        stdout = "\n".join(_shorten(line) for line in self.stdout_lines) or "(nothing)"
        stderr = "".join(self.stderr_chunks).strip() or "(nothing)"
        status = (
            "running"
            if self.process.returncode is None
            else f"exited with {self.process.returncode}"
        )
        return (
            f"node script {self.name} (pid {self.pid}, {status})\n"
            f"--- stdout ---\n{stdout}\n--- stderr ---\n{_shorten(stderr, 4000)}"
        )

    def _failure(self, message: str) -> NodeScriptError:
        return NodeScriptError(f"{message}\n{self.output()}")


def _shorten(text: str, limit: int = 500) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} chars)"


async def start_node(
    script: str,
    *args: str,
    env: Mapping[str, str] | None = None,
) -> NodeScript:
    """Start ``tests/interop/js/<script>.mjs`` with ``args``; the caller must ``stop()`` it."""
    path = JS_DIR / (script if script.endswith((".mjs", ".js")) else f"{script}.mjs")
    if not path.is_file():
        raise NodeScriptError(f"no such script: {path}")
    process = await asyncio.create_subprocess_exec(
        node_executable(),
        str(path),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=INTEROP_DIR,
        env={**os.environ, **(env or {})},
        limit=STDOUT_LIMIT,
    )
    return NodeScript(path.name, process)


@contextlib.asynccontextmanager
async def run_node(
    script: str,
    *args: str,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[NodeScript]:
    """``async with run_node("engine_client", url) as client: ...``; always stopped."""
    proc = await start_node(script, *args, env=env)
    try:
        yield proc
    finally:
        await proc.stop()


class NodeScripts:
    """What the ``node`` fixture yields: ``await node("engine_client", url, ...)``."""

    def __init__(self) -> None:
        self.started: list[NodeScript] = []

    async def __call__(
        self,
        script: str,
        *args: str,
        env: Mapping[str, str] | None = None,
    ) -> NodeScript:
        proc = await start_node(script, *args, env=env)
        self.started.append(proc)
        return proc

    async def stop_all(self) -> None:
        results = await asyncio.gather(
            *(proc.stop() for proc in self.started), return_exceptions=True
        )
        self.started.clear()
        errors: Sequence[BaseException] = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]


class EngineClientFactory:
    """What the ``engine_client`` fixture yields: starts ``js/engine_client.mjs``.

    ``client = await engine_client(url, transports=["websocket"])``: keyword arguments are
    engine.io-client options.
    """

    def __init__(self, node: NodeScripts) -> None:
        self._node = node

    async def __call__(self, url: str, **options: Any) -> NodeScript:
        return await self._node("engine_client", url, json.dumps(options))
