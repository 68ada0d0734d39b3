"""``ASGIApp(io, serve_client=...)``: the socket.io-client browser bundle, served from its npm
package with the headers of the JS server's ``serveClient`` (socket.io ``lib/index.ts``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import socketeer
from socketeer.server.client_bundle import CLIENT_FILES, find_package

INTEROP_MODULES = Path(__file__).resolve().parents[1] / "interop" / "node_modules"


@pytest.fixture
def node_modules(tmp_path: Path) -> Path:
    """A node_modules with a fake socket.io-client 9.9.9 (every bundle file present)."""
    package = tmp_path / "app" / "node_modules" / "socket.io-client"
    (package / "dist").mkdir(parents=True)
    (package / "package.json").write_text(
        json.dumps({"name": "socket.io-client", "version": "9.9.9"})
    )
    for name in CLIENT_FILES:
        (package / "dist" / name).write_text(f"/* {name} */" + " " * 2000)
    return tmp_path / "app" / "node_modules"


def client(app: socketeer.ASGIApp | Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test")


async def test_serves_the_bundle_like_serve_client(node_modules: Path) -> None:
    app = socketeer.ASGIApp(socketeer.Server(), serve_client=node_modules)
    async with client(app) as http:
        for name in CLIENT_FILES:
            response = await http.get(f"/socket.io/{name}", headers={"accept-encoding": "identity"})
            assert response.status_code == 200
            assert response.text.startswith(f"/* {name} */")
            kind = "json" if name.endswith(".map") else "javascript"
            assert response.headers["content-type"] == f"application/{kind}; charset=utf-8"
            assert response.headers["cache-control"] == "public, max-age=0"
            assert response.headers["etag"] == '"9.9.9"'
            assert "content-encoding" not in response.headers
        # The ETag, strong or weak, answers 304; a query string is ignored.
        for etag in ('"9.9.9"', 'W/"9.9.9"'):
            response = await http.get(
                "/socket.io/socket.io.js?v=1", headers={"if-none-match": etag}
            )
            assert response.status_code == 304
            assert response.content == b""
        stale = await http.get("/socket.io/socket.io.js", headers={"if-none-match": '"1.0.0"'})
        assert stale.status_code == 200
        # Compressed when accepted, once (cached).
        for encoding in ("gzip", "deflate"):
            for _ in range(2):
                response = await http.get(
                    "/socket.io/socket.io.min.js", headers={"accept-encoding": encoding}
                )
                assert response.headers["content-encoding"] == encoding
                assert response.headers["vary"] == "Accept-Encoding"
                assert response.text.startswith("/* socket.io.min.js */")  # httpx decoded it
                assert int(response.headers["content-length"]) < 1000
        head = await http.head("/socket.io/socket.io.js")
        assert head.status_code == 200
        # Nothing else is served from the package.
        for path in ("/socket.io/other.js", "/socket.io/../package.json", "/socket.io/dist/x"):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.post("/socket.io/socket.io.js", content=b"x")).status_code == 404
        assert (await http.get("/socket.io/")).status_code == 400  # the engine's


async def test_off_by_default_and_mounted(node_modules: Path) -> None:
    async with client(socketeer.ASGIApp(socketeer.Server())) as http:
        assert (await http.get("/socket.io/socket.io.js")).status_code == 404
    inner = socketeer.ASGIApp(socketeer.Server(), serve_client=node_modules / "socket.io-client")
    async with client(Starlette(routes=[Mount("/rt", app=inner)])) as http:
        response = await http.get("/rt/socket.io/socket.io.min.js")
        assert response.status_code == 200
        assert response.headers["etag"] == '"9.9.9"'


async def test_a_file_missing_from_the_package(node_modules: Path) -> None:
    (node_modules / "socket.io-client" / "dist" / "socket.io.esm.min.js").unlink()
    app = socketeer.ASGIApp(socketeer.Server(), serve_client=node_modules)
    async with client(app) as http:
        assert (await http.get("/socket.io/socket.io.esm.min.js")).status_code == 404
        assert (await http.get("/socket.io/socket.io.js")).status_code == 200


def test_finding_the_package(
    node_modules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = node_modules / "socket.io-client"
    assert find_package(node_modules) == package
    assert find_package(str(package)) == package
    nested = tmp_path / "project" / "src"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    with pytest.raises(FileNotFoundError, match=r"npm install socket\.io-client"):
        find_package(True)
    monkeypatch.chdir(node_modules.parent)
    assert find_package(True) == package
    with pytest.raises(FileNotFoundError):
        socketeer.ASGIApp(socketeer.Server(), serve_client=tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"serve_client is off"):
        find_package(False)


async def test_the_real_package() -> None:
    """With the npm package the interop tests install (socket.io-client 4.8.4)."""
    app = socketeer.ASGIApp(socketeer.Server(), serve_client=INTEROP_MODULES)
    async with client(app) as http:
        response = await http.get("/socket.io/socket.io.min.js")
        assert response.status_code == 200
        assert response.headers["etag"] == '"4.8.4"'
        assert response.text.startswith("/*!\n * Socket.IO v4.8.4")
