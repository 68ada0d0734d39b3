"""The official Socket.IO admin dashboard (its built UI from ``@socket.io/admin-ui``, served
by the demo at /admin/) logs in to our server with basic auth, and shows its sockets,
rooms and events; its "disconnect" button disconnects a chat page.

Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

from .conftest import ADMIN_PASSWORD, Browser, Demo, Page
from .test_chat import enter, send


async def nav(admin: Page, section: str) -> None:
    await admin.click(".v-navigation-drawer .v-list-item", section)
    await admin.wait(".v-breadcrumbs, main", section)


async def test_admin_dashboard(demo: Demo, browser: Browser) -> None:
    url = await demo.start()
    carol = await browser.open("carol", url)
    await enter(carol, "carol")
    await carol.fill("#join-input", "python")
    await carol.press("#join-input", "Enter")
    await carol.wait("#room-title", "# python")
    carol_id = await carol.eval("window.chat.socket.id")

    # The login form: the demo pre-fills the server URL; a wrong password is refused.
    admin = await browser.open("admin", f"{url}/admin", width=1280, height=800)
    assert await admin.eval("location.pathname") == "/admin/"  # redirected: relative assets
    await admin.wait_for(f"document.querySelector('.v-dialog input[type=text]')?.value === '{url}'")
    await admin.fill(".v-dialog input[type=text] >> nth=1", "admin")
    await admin.fill(".v-dialog input[type=password]", "wrong")
    await admin.click(".v-dialog button", "Connect")
    await admin.wait(".v-dialog", "Invalid credentials")
    await admin.fill(".v-dialog input[type=password]", ADMIN_PASSWORD)
    await admin.click(".v-dialog button", "Connect")
    await admin.wait(".v-dialog", state="hidden")
    await admin.wait("header", "Connected")

    # Dashboard: the namespaces with their socket counts, the clients by transport.
    await admin.wait("main tr", "/admin")
    await admin.wait("main tr:has(code:text-is('/'))", "1")
    await admin.wait("main tr", "WebSocket")
    await admin.screenshot("admin-dashboard.png")

    # Sockets: carol's socket; its details show her data (nickname) and rooms.
    await nav(admin, "Sockets")
    await admin.wait("main tr", carol_id)
    await admin.screenshot("admin-sockets.png")
    await admin.click("main tr", carol_id)
    await admin.wait("main", "Socket details")
    await admin.wait("main pre, main code", '"nick": "carol"')
    for room in ("general", "python"):
        await admin.wait("main tr", room)
    await admin.screenshot("admin-socket-details.png")

    # Rooms: the chat's rooms, with their member counts.
    await nav(admin, "Rooms")
    await admin.wait("main tr", "general")
    await admin.wait("main tr", "python")
    await admin.screenshot("admin-rooms.png")

    # Events (development mode): what carol sends shows up as it happens.
    await nav(admin, "Events")
    await send(carol, "hello, admin")
    await admin.wait("main tr", "message")
    await admin.screenshot("admin-events.png")

    # A command: disconnect carol's socket from the dashboard; her page comes back.
    await nav(admin, "Sockets")
    await admin.click("main tr", carol_id)
    await admin.wait("main", "Socket details")
    await admin.click("main button:has(.mdi-logout) >> nth=1")
    await carol.wait(".notice", "disconnected: io server disconnect")
    await carol.wait(".notice", "reconnected with a new session")
    await carol.wait("#status[data-state=online]")

    assert carol.errors() == []
    assert admin.errors() == []
