"""The chat demo's server: a Socket.IO chat with rooms, plus its pages and the admin UI.

What the page and the server say to each other (every name is an event):

=================  =====================================================================
page -> server     ``hello {nick, rooms, again}`` (ack: the rooms joined, their history;
                   ``again``: back after a server restart, no "joined" notices),
                   ``join room`` / ``leave room`` (ack), ``message {room, id, text}`` and
                   ``image {room, id, name, type, data: bytes}`` (ack: ``{id, ts}``: the
                   first tick), ``receipt id`` (a message arrived), ``typing {room,
                   typing}`` (volatile)
server -> page     ``message`` / ``image`` (the same, with ``nick``, ``from``, ``ts``),
                   ``delivered {id, by}`` (the second tick), ``typing {room, nick,
                   typing}`` (volatile), ``rooms [{name, online, members}]`` (whenever
                   someone joins, leaves, connects or drops), ``notice {room, text}``
=================  =====================================================================

Connection-state recovery is on: a page whose connection drops for less than two minutes
gets its socket id, rooms and nickname back, and every message it missed. After a server
restart nothing is left to recover: the page says ``hello`` again with its nickname and
rooms.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

import socketeer
from socketeer.server.server import AdapterFactory

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
NODE_MODULES = HERE / "node_modules"
ADMIN_UI = Path("@socket.io/admin-ui/ui/dist")
ICONS = Path("@mdi/font")  # the dashboard's icon font, which its page loads from a CDN
ICONS_CDN = b"https://cdn.jsdelivr.net/npm/@mdi/font@latest/css/materialdesignicons.min.css"
CLIENT_PACKAGE = Path("socket.io-client/package.json")

DEFAULT_ROOMS = ("general", "random")
ROOM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")
MAX_ROOMS = 50  # rooms that may exist at once (the default ones included)
MAX_ROOMS_PER_SOCKET = 10
MAX_NICK = 24
MAX_TEXT = 2_000
MAX_IMAGE = 900_000  # bytes; the engine's max_http_buffer_size (1 MB) bounds the packet
HISTORY = 50  # text messages kept per room for newcomers
RECEIPTS = 2_000  # message ids whose sender is remembered, for delivery ticks

logger = logging.getLogger("examples.chat")


def missing_packages(node_modules: Path = NODE_MODULES) -> list[str]:
    """The npm packages the demo serves that are not installed in ``node_modules``."""
    wanted = {
        "socket.io-client": CLIENT_PACKAGE,
        "@socket.io/admin-ui": ADMIN_UI / "index.html",
        "@mdi/font": ICONS / "css/materialdesignicons.min.css",
    }
    return [name for name, path in wanted.items() if not (node_modules / path).exists()]


def clean_nick(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    nick = " ".join(value.split())[:MAX_NICK]
    return nick or None


def clean_room(value: object) -> str | None:
    if isinstance(value, str) and ROOM_NAME.fullmatch(value):
        return value
    return None


@dataclass
class Chat:
    """The chat's state (this process's part of it: history and receipts are per node)."""

    io: socketeer.Server
    history: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    senders: OrderedDict[str, str] = field(default_factory=OrderedDict)
    _rooms_task: asyncio.Task[None] | None = None
    _rooms_again: bool = False

    # -- rooms -----------------------------------------------------------------------------

    async def summary(self) -> list[dict[str, Any]]:
        """Every room with its online count and members (across nodes, with a cluster
        adapter: ``fetch_sockets`` asks them all)."""
        members: dict[str, list[str]] = {room: [] for room in DEFAULT_ROOMS}
        for remote in await self.io.fetch_sockets():
            nick = remote.data.get("nick") if isinstance(remote.data, dict) else None
            for room in remote.rooms:
                if room != remote.id and nick:
                    members.setdefault(room, []).append(nick)
        return [
            {"name": room, "online": len(nicks), "members": sorted(nicks, key=str.lower)}
            for room, nicks in sorted(members.items())
        ]

    def rooms_changed(self) -> None:
        """Send everyone the new room list (coalesced: one computation at a time)."""
        if self._rooms_task is not None and not self._rooms_task.done():
            self._rooms_again = True
            return
        self._rooms_task = asyncio.get_running_loop().create_task(self._send_rooms())

    async def _send_rooms(self) -> None:
        while True:
            self._rooms_again = False
            try:
                self.io.emit("rooms", await self.summary())
            except Exception:  # the demo must go on
                logger.exception("could not send the room list")
            if not self._rooms_again:
                return

    def existing_rooms(self) -> set[str]:
        """The rooms that exist on this node: the default ones and those with members (a
        socket's own room, its id, is not a chat room)."""
        adapter = self.io.sockets.adapter
        return {room for room in adapter.rooms if room not in adapter.sids} | set(DEFAULT_ROOMS)

    # -- messages --------------------------------------------------------------------------

    def remember(self, room: str, message: dict[str, Any]) -> None:
        self.history.setdefault(room, deque(maxlen=HISTORY)).append(message)

    def remember_sender(self, message_id: str, sid: str) -> None:
        self.senders[message_id] = sid
        while len(self.senders) > RECEIPTS:
            self.senders.popitem(last=False)


def chat_server(adapter: AdapterFactory | None = None) -> tuple[socketeer.Server, Chat]:
    """The Socket.IO server of the chat, with its handlers."""
    options: dict[str, Any] = {"connection_state_recovery": True}
    if adapter is not None:
        options["adapter"] = adapter
    io = socketeer.Server(**options)
    chat = Chat(io)

    @io.on("connection")
    def connection(socket: socketeer.Socket) -> None:
        if not isinstance(socket.data, dict):
            socket.data = {}
        if socket.recovered:
            chat.rooms_changed()

        def nick() -> str:
            return str(socket.data.get("nick") or "anonymous")

        def chat_rooms() -> set[str]:
            return {room for room in socket.rooms if room != socket.id}

        def refusal(room: str) -> str | None:
            """Why ``room`` may not be joined now, or None."""
            if room in socket.rooms:
                return None
            if len(chat_rooms()) >= MAX_ROOMS_PER_SOCKET:
                return f"at most {MAX_ROOMS_PER_SOCKET} rooms at once"
            existing = chat.existing_rooms()
            if room not in existing and len(existing) >= MAX_ROOMS:
                return f"there are {MAX_ROOMS} rooms already: join one of them"
            return None

        def join(room: str, *, quietly: bool = False) -> list[dict[str, Any]]:
            if room not in socket.rooms:
                socket.join(room)
                if not quietly:
                    socket.to(room).emit("notice", {"room": room, "text": f"{nick()} joined"})
            return list(chat.history.get(room, ()))

        @socket.on("hello")
        def hello(payload: Any) -> dict[str, Any]:
            if not isinstance(payload, dict) or (name := clean_nick(payload.get("nick"))) is None:
                return {"error": "a nickname is needed"}
            socket.data["nick"] = name
            wanted = payload.get("rooms")
            rooms = [r for r in (wanted if isinstance(wanted, list) else []) if clean_room(r)]
            rooms = list(dict.fromkeys(rooms)) or ["general"]
            again = bool(payload.get("again"))  # back after a server restart
            history = {room: join(room, quietly=again) for room in rooms if refusal(room) is None}
            chat.rooms_changed()
            return {"nick": name, "rooms": list(history), "history": history}

        @socket.on("join")
        def on_join(value: Any) -> dict[str, Any]:
            room = clean_room(value)
            if room is None:
                return {"error": "room names are 1-24 characters: a-z, 0-9, - and _"}
            if (why := refusal(room)) is not None:
                return {"error": why}
            history = join(room)
            chat.rooms_changed()
            return {"room": room, "history": history}

        @socket.on("leave")
        def on_leave(value: Any) -> dict[str, Any]:
            room = clean_room(value)
            if room is None or room not in socket.rooms:
                return {"error": "not in that room"}
            socket.leave(room)
            socket.to(room).emit("notice", {"room": room, "text": f"{nick()} left"})
            chat.rooms_changed()
            return {"room": room}

        def new_message(payload: Any) -> dict[str, Any] | str:
            """The message a page posts (without its content), or why it is refused."""
            if not isinstance(payload, dict):
                return "bad message"
            room = clean_room(payload.get("room"))
            message_id = payload.get("id")
            if room is None or room not in socket.rooms:
                return "join the room first"
            if not isinstance(message_id, str) or not 0 < len(message_id) <= 64:
                return "bad message id"
            ts = int(time.time() * 1000)
            return {"id": message_id, "room": room, "nick": nick(), "from": socket.id, "ts": ts}

        @socket.on("message")
        def message(payload: Any) -> dict[str, Any]:
            msg = new_message(payload)
            if isinstance(msg, str):
                return {"error": msg}
            text = payload.get("text")
            if not isinstance(text, str) or not text.strip():
                return {"error": "empty message"}
            msg["text"] = text[:MAX_TEXT]
            chat.remember(msg["room"], msg)
            chat.remember_sender(msg["id"], socket.id)
            socket.to(msg["room"]).emit("message", msg)
            return {"id": msg["id"], "ts": msg["ts"]}

        @socket.on("image")
        def image(payload: Any) -> dict[str, Any]:
            msg = new_message(payload)
            if isinstance(msg, str):
                return {"error": msg}
            data, mime, name = payload.get("data"), payload.get("type"), payload.get("name")
            if not isinstance(data, bytes) or not 0 < len(data) <= MAX_IMAGE:
                return {"error": f"images are sent as binary, at most {MAX_IMAGE} bytes"}
            if not isinstance(mime, str) or not mime.startswith("image/"):
                return {"error": "not an image"}
            msg.update(data=data, type=mime[:100], name=name[:100] if isinstance(name, str) else "")
            chat.remember_sender(msg["id"], socket.id)
            socket.to(msg["room"]).emit("image", msg)  # live only: images stay out of history
            return {"id": msg["id"], "ts": msg["ts"]}

        @socket.on("receipt")
        def receipt(message_id: Any) -> None:
            sender = chat.senders.get(message_id) if isinstance(message_id, str) else None
            if sender is not None and sender != socket.id:
                io.to(sender).emit("delivered", {"id": message_id, "by": nick()})

        @socket.on("typing")
        def typing(payload: Any) -> None:
            room = clean_room(payload.get("room")) if isinstance(payload, dict) else None
            if room is not None and room in socket.rooms:
                update = {"room": room, "nick": nick(), "typing": bool(payload.get("typing"))}
                socket.to(room).volatile.emit("typing", update)

        @socket.on("disconnect")
        def disconnect(reason: str) -> None:
            chat.rooms_changed()

    return io, chat


# -- the pages -------------------------------------------------------------------------------

# Pre-fills the login form's "Server URL" with this server on a first visit (the UI then
# remembers it). Setting localStorage instead would make the UI try to connect at once,
# without credentials, and greet a new user with "Invalid credentials".
_ADMIN_DEFAULTS = b"""<script>/* socketeer demo */
addEventListener("DOMContentLoaded", function () {
  if (localStorage.getItem("server_url")) return;
  var tries = 0, timer = setInterval(function () {
    var input = document.querySelector(".v-dialog input[type=text]");
    if (input || ++tries > 50) clearInterval(timer);
    if (input && !input.value) {
      input.value = location.origin;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }, 100);
});
</script>"""


def pages(node_modules: Path) -> Starlette:
    """``/`` (the chat), ``/static/...`` and ``/admin/`` (the official dashboard)."""
    admin_dist = node_modules / ADMIN_UI

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def admin_index(request: Request) -> Response:
        try:
            page = (admin_dist / "index.html").read_bytes()
        except OSError:
            return PlainTextResponse(
                "The admin UI is not installed: run scripts/demo (npm ci in examples/chat).",
                status_code=503,
            )
        page = page.replace(b"<head>", b"<head>" + _ADMIN_DEFAULTS, 1)
        # Icons from the npm package rather than a CDN: the dashboard works offline too.
        page = page.replace(ICONS_CDN, b"mdi/css/materialdesignicons.min.css")
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    routes: list[Route | Mount] = [
        Route("/", index),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Mount(
            "/admin",
            routes=[
                Route("/", admin_index),
                Mount("/mdi", StaticFiles(directory=node_modules / ICONS, check_dir=False)),
                Mount("/", StaticFiles(directory=admin_dist, check_dir=False)),
            ],
        ),
    ]
    return Starlette(routes=routes)


def create_app(
    *,
    admin_password: str,
    admin_username: str = "admin",
    admin_read_only: bool = False,
    adapter: AdapterFactory | None = None,
    node_modules: Path = NODE_MODULES,
) -> socketeer.ASGIApp:
    """The demo as one ASGI app: Socket.IO at ``/socket.io/`` (which also serves the
    official client bundle, ``/socket.io/socket.io.js``), the chat page at ``/``, and the
    admin dashboard at ``/admin/`` (login: ``admin_username`` / ``admin_password``)."""
    io, _ = chat_server(adapter)
    socketeer.instrument(
        io,
        auth={"type": "basic", "username": admin_username, "password": admin_password},
        read_only=admin_read_only,
    )
    return socketeer.ASGIApp(io, pages(node_modules), serve_client=node_modules)


def iter_urls(base: str) -> Iterable[tuple[str, str]]:
    """What the demo serves, for the start-up message."""
    yield "chat", f"{base}/"
    yield "admin dashboard", f"{base}/admin/"
    yield "client bundle", f"{base}/socket.io/socket.io.min.js"
