"""The chat demo (examples/chat): its pages, the bundle and the admin UI it serves, its chat
protocol spoken by the official socket.io-client, its command line, and two demo servers
sharing one chat through Redis. (Real browsers: tests/browser/.)"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import signal
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from .node import NodeScript, NodeScripts

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-password"


def load_demo() -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    demo = importlib.import_module("examples.chat")
    missing = demo.missing_packages()
    if missing:
        pytest.fail(f"{missing} not installed in examples/chat: run scripts/test (npm ci there)")
    return demo


async def test_pages_bundle_and_admin_ui(serve_asgi: Any) -> None:
    url = await serve_asgi(load_demo().create_app(admin_password=PASSWORD))
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert '<script src="/socket.io/socket.io.min.js"></script>' in page.text
        for path in ("/static/chat.js", "/static/chat.css"):
            assert (await http.get(path)).status_code == 200
        bundle = await http.get("/socket.io/socket.io.min.js")
        assert bundle.status_code == 200
        assert bundle.headers["etag"] == '"4.8.4"'
        assert bundle.text.startswith("/*!\n * Socket.IO v4.8.4")
        assert (await http.get("/socket.io/socket.io.min.js.map")).status_code == 200

        # The admin UI: /admin redirects (its assets are relative), the page gets the
        # server URL pre-fill and the icon font from the npm package instead of a CDN.
        redirect = await http.get("/admin")
        assert redirect.status_code == 307
        assert redirect.headers["location"].endswith("/admin/")
        admin = await http.get("/admin/")
        assert admin.status_code == 200
        assert "<title>Socket.IO Admin UI</title>" in admin.text
        assert "location.origin" in admin.text
        assert 'href="mdi/css/materialdesignicons.min.css"' in admin.text
        assert "cdn.jsdelivr.net" not in admin.text
        scripts = re.findall(r'<script src="(js/[^"]+)"', admin.text)
        assert len(scripts) == 2
        for asset in [*scripts, "mdi/css/materialdesignicons.min.css", "favicon.png"]:
            assert (await http.get(f"/admin/{asset}")).status_code == 200, asset
        for missing in ("/admin/nope.js", "/static/../app.py", "/nowhere"):
            assert (await http.get(missing)).status_code == 404, missing


async def start_client(node: NodeScripts, url: str) -> NodeScript:
    client = await node("socketio_client", url, '{"transports": ["websocket"]}')
    await client.expect("ready")
    return client


async def call(client: NodeScript, label: str, event: str, *args: Any) -> Any:
    """Emit with an acknowledgement; return the server's answer."""
    ref = f"{label}-{event}-{len(client.seen(f'{label}:ack'))}"
    await client.send(
        {"cmd": "emit", "socket": label, "event": event, "args": list(args), "ack": ref}
    )
    while True:
        answer = await client.expect(f"{label}:ack")
        if answer["ref"] == ref:
            return answer["args"][0] if answer["args"] else None


async def next_event(client: NodeScript, label: str, name: str) -> list[Any]:
    for _ in range(50):
        found = await client.expect(f"{label}:event")
        if found["name"] == name:
            args: list[Any] = found["args"]
            return args
    raise AssertionError(f"{label}: no {name!r} among 50 events\n{client.output()}")


async def test_chat_protocol(serve_asgi: Any, node: NodeScripts) -> None:
    url = await serve_asgi(load_demo().create_app(admin_password=PASSWORD))
    client = await start_client(node, url)
    ids: dict[str, str] = {}
    for label in ("a", "b"):
        await client.send({"cmd": "connect", "socket": label})
        ids[label] = (await client.expect(f"{label}:connect"))["id"]

    # hello: a nickname (cleaned up) and rooms; the default room when none is asked for.
    assert (await call(client, "a", "hello", {"rooms": []}))["error"]
    hello = await call(client, "a", "hello", {"nick": "  ann   lee ", "rooms": ["BAD name"]})
    assert hello == {"nick": "ann lee", "rooms": ["general"], "history": {"general": []}}
    await call(client, "b", "hello", {"nick": "bob", "rooms": ["general", "python"]})
    rooms = await next_event(client, "a", "rooms")
    while {r["name"]: r["online"] for r in rooms[0]}.get("general") != 2:
        rooms = await next_event(client, "a", "rooms")
    summary = {r["name"]: r for r in rooms[0]}
    assert summary["general"]["members"] == ["ann lee", "bob"]
    assert summary["python"]["online"] == 1
    assert summary["random"]["online"] == 0

    # A message: the sender's ack (first tick), the others' copy, a receipt (second tick).
    ack = await call(client, "a", "message", {"room": "general", "id": "m1", "text": "hi"})
    assert ack["id"] == "m1"
    message = (await next_event(client, "b", "message"))[0]  # then the recovery offset
    assert message == {
        "id": "m1",
        "room": "general",
        "nick": "ann lee",
        "from": ids["a"],
        "ts": ack["ts"],
        "text": "hi",
    }
    await client.send({"cmd": "emit", "socket": "b", "event": "receipt", "args": ["m1"]})
    assert (await next_event(client, "a", "delivered"))[0] == {"id": "m1", "by": "bob"}

    # Joining a room returns its history; the others hear about it.
    joined = await call(client, "a", "join", "python")
    assert joined == {"room": "python", "history": []}
    notice = (await next_event(client, "b", "notice"))[0]
    assert notice == {"room": "python", "text": "ann lee joined"}
    # Typing (volatile) and an image (binary) reach the room.
    await client.send(
        {"cmd": "emit", "socket": "a", "event": "typing", "args": [{"room": "python", "typing": 1}]}
    )
    typing = await next_event(client, "b", "typing")  # volatile: no recovery offset
    assert typing == [{"room": "python", "nick": "ann lee", "typing": True}]
    image = {"room": "python", "id": "i1", "name": "x.png", "type": "image/png"}
    ack = await call(client, "a", "image", {**image, "data": {"$bytes": "89504e47"}})
    assert ack["id"] == "i1"
    shared = (await next_event(client, "b", "image"))[0]
    assert shared["data"] == {"$bytes": "89504e47"}
    assert shared["name"] == "x.png"
    # The history keeps text messages (not images) for newcomers.
    await call(client, "b", "message", {"room": "python", "id": "m2", "text": "welcome"})
    assert (await call(client, "b", "leave", "python")) == {"room": "python"}
    again = await call(client, "b", "join", "python")
    assert [m["text"] for m in again["history"]] == ["welcome"]

    # What is refused.
    refused = [
        await call(client, "a", "join", "Not A Room"),
        await call(client, "a", "leave", "random"),
        await call(client, "a", "message", {"room": "random", "id": "m3", "text": "x"}),
        await call(client, "a", "message", {"room": "general", "id": "", "text": "x"}),
        await call(client, "a", "message", {"room": "general", "id": "m4", "text": "  "}),
        await call(client, "a", "message", "not a dict"),
        await call(client, "a", "image", {**image, "id": "i2", "data": "not bytes"}),
        await call(
            client,
            "a",
            "image",
            {**image, "id": "i3", "type": "text/html", "data": {"$bytes": "00"}},
        ),
    ]
    assert all(set(answer) == {"error"} for answer in refused), refused
    for n in range(8):
        await call(client, "a", "join", f"room-{n}")
    assert "at most" in (await call(client, "a", "join", "one-too-many"))["error"]


async def test_rooms_are_bounded(serve_asgi: Any, node: NodeScripts, monkeypatch: Any) -> None:
    demo = load_demo()
    monkeypatch.setattr(sys.modules["examples.chat.app"], "MAX_ROOMS", 3)
    url = await serve_asgi(demo.create_app(admin_password=PASSWORD))
    client = await start_client(node, url)
    await client.send({"cmd": "connect", "socket": "a"})
    await client.expect("a:connect")
    await call(client, "a", "hello", {"nick": "a"})
    assert await call(client, "a", "join", "third") == {"room": "third", "history": []}
    assert "rooms already" in (await call(client, "a", "join", "fourth"))["error"]
    assert (await call(client, "a", "join", "random"))["room"] == "random"  # exists already


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def run_demo(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "examples.chat",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_command_line_prints_where_it_listens() -> None:
    load_demo()
    process = await run_demo("--port", "0", "--admin-password", "let-me-in")
    try:
        assert process.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(20.0):
            while not lines or not lines[-1].startswith("Ctrl+C"):
                line = (await process.stdout.readline()).decode()
                assert line, f"the demo exited: {lines}"
                lines.append(line.rstrip())
        match = re.fullmatch(
            r"socketeer chat demo listening on (http://127\.0\.0\.1:\d+)", lines[0]
        )
        assert match, lines
        url = match.group(1)
        text = "\n".join(lines)
        assert f"{url}/admin/" in text
        assert "password 'let-me-in'" in text
        assert "adapter: in-memory" in text
        async with httpx.AsyncClient(timeout=10.0) as http:
            assert (await http.get(f"{url}/")).status_code == 200
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully
            try:
                async with asyncio.timeout(10.0):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        with contextlib.suppress(Exception):
            await process.communicate()
    assert process.returncode == -signal.SIGINT  # uvicorn re-raises the signal it handled


async def test_command_line_redis_errors() -> None:
    load_demo()
    for url, message in (
        (f"redis://127.0.0.1:{free_port()}", "nothing answers at 127.0.0.1"),
        ("http://localhost", "is not a redis:// URL"),
    ):
        process = await run_demo("--port", "0", "--redis", url)
        async with asyncio.timeout(20.0):
            _, err = await process.communicate()
        assert process.returncode == 2
        assert message in err.decode(), err.decode()


@pytest.mark.redis
async def test_two_demo_servers_share_one_chat_through_redis(
    serve_asgi: Any, node: NodeScripts
) -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0):
            pass
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379 (scripts/test starts one)")
    demo = load_demo()
    redis = importlib.import_module("socketeer.adapters.redis")
    key = f"sk-demo-{uuid.uuid4().hex[:10]}"
    urls = [
        await serve_asgi(
            demo.create_app(
                admin_password=PASSWORD,
                adapter=redis.create_adapter("redis://127.0.0.1:6379/0", key=key),
            )
        )
        for _ in range(2)
    ]
    one, two = [await start_client(node, url) for url in urls]
    for client, label, nick in ((one, "a", "ann"), (two, "b", "bob")):
        await client.send({"cmd": "connect", "socket": label})
        await client.expect(f"{label}:connect")
        await call(client, label, "hello", {"nick": nick})
    # The room list counts the members of both servers.
    while True:
        rooms = (await next_event(two, "b", "rooms"))[0]
        general = next(r for r in rooms if r["name"] == "general")
        if general["online"] == 2:
            break
    assert general["members"] == ["ann", "bob"]
    await call(one, "a", "message", {"room": "general", "id": "x1", "text": "across"})
    message = (await next_event(two, "b", "message"))[0]
    assert message["text"] == "across"
    await two.send({"cmd": "emit", "socket": "b", "event": "receipt", "args": ["x1"]})
