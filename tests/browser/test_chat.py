"""Two Chromium pages chat through the demo server (examples/chat) with the official
socket.io-client: nicknames, messages with delivery ticks, typing indicators, rooms with
online counts, an image shared as binary, the polling -> WebSocket upgrade, a dropped
connection recovered with the messages it missed, and a server restart survived.

Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import struct
import zlib

from .conftest import Browser, Demo, Page


def png(width: int, height: int) -> bytes:
    """A small PNG (a colour gradient with a white band), made without any library."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            band = height // 3 <= y < 2 * height // 3 and width // 8 <= x < 7 * width // 8
            rows += bytes((255, 255, 255)) if band else bytes((79, 107 + y, 255 - 2 * x % 255))
    chunks = [
        (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
        (b"IDAT", zlib.compress(bytes(rows))),
        (b"IEND", b""),
    ]
    out = b"\x89PNG\r\n\x1a\n"
    for kind, data in chunks:
        out += struct.pack(">I", len(data)) + kind + data
        out += struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return out


async def enter(page: Page, nick: str) -> None:
    await page.wait("#login-form")
    await page.fill("#nick", nick)
    await page.press("#nick", "Enter")
    await page.wait("#status[data-state=online]")
    await page.wait("#me-nick", nick)


async def send(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


def online(room: str) -> str:
    return f'#rooms li[data-room="{room}"] .online'


async def test_two_pages_chat(demo: Demo, browser: Browser) -> None:
    url = await demo.start()
    alice = await browser.open("alice", url)
    bob = await browser.open("bob", url)
    await alice.wait("#login-form")
    await alice.screenshot("chat-login.png")
    await enter(alice, "alice")
    await enter(bob, "bob")

    # The official client starts on HTTP long-polling, then upgrades to a WebSocket.
    for page in (alice, bob):
        await page.wait(".notice", "transport upgraded: polling \u2192 websocket")
        await page.wait("#transport", "websocket")
        assert any("transport=websocket" in u for u in page.websockets()), page.websockets()
    bundle_version = await alice.wait("#client-version", "v4.8.4")
    assert bundle_version == "v4.8.4"

    # Online counts, a message with its two ticks (server ack, then the other's receipt).
    await alice.wait(online("general"), "2")
    await alice.wait("#room-members", "alice, bob")
    await send(alice, "hello bob")
    await bob.wait(".msg.theirs .bubble", "hello bob")
    await bob.wait(".msg.theirs .nick", "alice")
    await alice.wait('.msg.mine .ticks[data-state="delivered"]')

    # Typing indicators (volatile events), cleared when the message goes.
    await bob.type("#text", "hi alice")
    await alice.wait("#typing", "bob is typing")
    await bob.press("#text", "Enter")
    await alice.wait(".msg.theirs .bubble", "hi alice")
    await alice.wait_for("document.querySelector('#typing').textContent === ''")

    # Rooms: create one, the other joins it, counts follow on both sides.
    await alice.fill("#join-input", "python")
    await alice.press("#join-input", "Enter")
    await alice.wait("#room-title", "# python")
    await bob.wait(online("python"), "1")
    await bob.click('#rooms li[data-room="python"]')  # not joined yet: joins it
    await bob.wait("#room-title", "# python")
    await alice.wait(online("python"), "2")
    await alice.wait(".notice", "bob joined")

    # An image, sent as a binary attachment, displayed from a Blob on the other side.
    await alice.set_file("#file", "socketeer.png", "image/png", png(160, 96))
    await bob.wait_for("document.querySelector('.msg.theirs img')?.naturalWidth === 160")
    await alice.wait('.msg.mine .ticks[data-state="delivered"]')
    await send(bob, "nice picture")
    await alice.wait(".msg.theirs .bubble", "nice picture")
    await alice.screenshot("chat-alice.png")
    await bob.screenshot("chat-bob.png")

    # Leaving a room.
    await bob.click("#leave")
    await bob.wait("#room-title", "# general")
    await alice.wait(online("python"), "1")
    await alice.wait(".notice", "bob left")
    await alice.click('#rooms li[data-room="general"]')
    await alice.wait("#room-title", "# general")

    # A dropped connection: what was said meanwhile is replayed (connection-state recovery).
    await bob.click("#drop")
    await bob.wait("#status[data-state=reconnecting]")
    await alice.wait(online("general"), "1")  # the server saw bob go
    await send(alice, "while you were away (1)")
    await send(alice, "while you were away (2)")
    await alice.wait_for(
        "[...document.querySelectorAll('.msg.mine .ticks')].filter("
        "t => t.dataset.state !== 'pending').length === 3"
    )
    await bob.wait(".notice", "session recovered, 2 missed messages replayed")
    await bob.wait(".msg.theirs", "while you were away (2)")
    assert await bob.count(".msg.theirs .recovered-badge") == 2
    await alice.wait(online("general"), "2")
    await bob.screenshot("chat-recovered.png")

    # A server restart: a fresh server on the same port; both pages come back by
    # themselves, say hello again with their nickname and rooms, and chat on.
    await demo.restart()
    for page in (alice, bob):
        await page.wait(".notice", "reconnected with a new session", timeout=15.0)
        await page.wait("#status[data-state=online]")
    await alice.wait(online("general"), "2")
    await alice.wait(online("python"), "1")
    await send(bob, "still here after the restart")
    await alice.wait(".msg.theirs .bubble", "still here after the restart")
    await bob.wait('.msg.mine .ticks[data-state="delivered"]')
    await alice.screenshot("chat-after-restart.png")

    assert alice.errors() == []
    assert bob.errors() == []
