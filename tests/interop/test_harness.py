"""Tests of the interop harness itself: the Node script runner and the uvicorn fixture."""

from __future__ import annotations

import os
from typing import Any

import pytest

from .node import NodeScriptError, NodeScripts, big_string, run_node

Scope = dict[str, Any]


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    """A raw ASGI app: lifespan, GET -> "hello <path>", WebSocket echo, /boom raises."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        if scope["path"] == "/boom":
            raise RuntimeError("boom")
        body = f"hello {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": f"echo {message.get('text')}"})


async def test_events_are_matched_by_name_in_order(node: NodeScripts) -> None:
    probe = await node("probe", "an-arg")
    assert (await probe.expect("ready"))["args"] == ["an-arg"]
    await probe.send({"cmd": "echo", "n": 1})
    await probe.send({"cmd": "print_raw", "text": "not json"})
    await probe.send({"cmd": "echo", "n": 2})
    assert (await probe.expect("echo"))["n"] == 1
    assert (await probe.expect("echo"))["n"] == 2
    assert (await probe.expect("_unparsed"))["line"] == "not json"
    assert [e["n"] for e in probe.seen("echo")] == [1, 2]


async def test_timeout_reports_stdout_and_stderr(node: NodeScripts) -> None:
    probe = await node("probe")
    await probe.send({"cmd": "stderr", "text": "some-diagnostic"})
    await probe.send({"cmd": "echo", "marker": "m1"})
    await probe.expect("echo")
    with pytest.raises(NodeScriptError, match=r"no 'never' event within 0\.5 s") as info:
        await probe.expect("never", timeout=0.5)
    assert '"marker":"m1"' in str(info.value)
    assert "some-diagnostic" in str(info.value)


async def test_exit_before_the_event_fails_at_once(node: NodeScripts) -> None:
    probe = await node("probe")
    await probe.expect("ready")
    await probe.send({"cmd": "stderr", "text": "last words"})
    await probe.send({"cmd": "exit", "code": 3})
    with pytest.raises(NodeScriptError, match="ended before printing a 'never' event") as info:
        await probe.expect("never", timeout=30)
    assert "exited with 3" in str(info.value)
    assert "last words" in str(info.value)
    with pytest.raises(NodeScriptError, match="has ended"):
        await probe.send({"cmd": "echo"})


async def test_stop_ends_the_process() -> None:
    async with run_node("probe") as probe:
        await probe.expect("ready")
        pid = probe.pid
    assert probe.process.returncode == 0  # exited by itself when stdin ended
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_stop_kills_when_the_grace_period_ends() -> None:
    async with run_node("probe") as probe:
        await probe.expect("ready")
        await probe.stop(grace=0)
        assert probe.process.returncode == -9


def test_big_string_matches_the_scripts_pattern() -> None:
    assert big_string(30) == "abcdefghijklmnopqrstuvwxyzabcd"
    assert len(big_string(500_000)) == 500_000


async def test_serve_asgi_http_and_websocket(serve_asgi: Any, node: NodeScripts) -> None:
    url = await serve_asgi(echo_app)
    assert url.startswith("http://127.0.0.1:")
    probe = await node("probe")
    await probe.send({"cmd": "fetch", "url": f"{url}/x"})
    assert await probe.expect("response") == {
        "event": "response",
        "status": 200,
        "body": "hello /x",
    }
    ws_url = url.replace("http://", "ws://") + "/ws"
    await probe.send({"cmd": "ws_echo", "url": ws_url, "data": "hi"})
    assert (await probe.expect("ws_message"))["data"] == "echo hi"
    assert (await probe.expect("ws_close"))["code"] == 1000


async def test_serve_asgi_records_app_errors(serve_asgi: Any, node: NodeScripts) -> None:
    url = await serve_asgi(echo_app)
    probe = await node("probe")
    await probe.send({"cmd": "fetch", "url": f"{url}/boom"})
    assert (await probe.expect("response"))["status"] == 500
    assert any("Exception in ASGI application" in r.getMessage() for r in serve_asgi.errors.records)
    serve_asgi.errors.records.clear()  # expected here; otherwise the fixture fails the test
