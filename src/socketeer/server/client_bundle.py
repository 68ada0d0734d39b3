"""The official ``socket.io-client`` browser bundle, served as the JS server's ``serveClient``.

``ASGIApp(io, serve_client=...)`` answers ``GET <path>/socket.io.js`` (and ``.min.js``,
``.msgpack.min.js``, ``.esm.min.js`` and their ``.map`` files) from an installed
``socket.io-client`` npm package; nothing is copied into socketeer. The headers are the
JS server's (socket.io ``lib/index.ts`` ``serve()``): ``ETag: "<client version>"`` (a
matching ``If-None-Match``, strong or weak, gets 304), ``Cache-Control: public,
max-age=0``, ``application/javascript`` (``application/json`` for maps), compressed when
the browser accepts it (gzip or deflate; JS also offers brotli).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final

from .http import HTTPRequest, HTTPResponse, compress

CLIENT_FILES: Final = frozenset(
    {
        "socket.io.esm.min.js",
        "socket.io.esm.min.js.map",
        "socket.io.js",
        "socket.io.js.map",
        "socket.io.min.js",
        "socket.io.min.js.map",
        "socket.io.msgpack.min.js",
        "socket.io.msgpack.min.js.map",
    }
)
"""The files the JS server serves (socket.io ``CLIENT_FILES``)."""

PACKAGE: Final = "socket.io-client"


def find_package(where: bool | str | os.PathLike[str]) -> Path:
    """The ``socket.io-client`` package directory.

    ``where`` is a ``node_modules`` directory, the package directory itself, or True to
    look for ``node_modules/socket.io-client`` in the current directory and its parents
    (as Node's ``require.resolve`` would). Raises ``FileNotFoundError`` when not found.
    """
    if where is True:
        start = Path.cwd()
        candidates = [d / "node_modules" / PACKAGE for d in (start, *start.parents)]
    elif where is False:
        raise ValueError("serve_client is off")
    else:
        base = Path(where)
        candidates = [base / PACKAGE, base]
    for candidate in candidates:
        if (candidate / "package.json").is_file() and (candidate / "dist").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates[:3]) + (" ..." if len(candidates) > 3 else "")
    raise FileNotFoundError(
        f"the {PACKAGE} npm package is not installed (looked in {looked}); "
        f"run `npm install {PACKAGE}` or pass serve_client=<node_modules directory>"
    )


class ClientBundle:
    """The bundle files of one installed ``socket.io-client``, read once, then cached."""

    __slots__ = ("_cache", "dist", "etag", "version")

    def __init__(self, package: Path) -> None:
        manifest = json.loads((package / "package.json").read_text("utf-8"))
        self.version: str = str(manifest.get("version", "0"))
        self.dist = package / "dist"
        self.etag = f'"{self.version}"'  # ETags are quoted (RFC 7232 section 2.3)
        self._cache: dict[tuple[str, str | None], tuple[bytes, str | None]] = {}

    @classmethod
    def locate(cls, where: bool | str | os.PathLike[str]) -> ClientBundle:
        """The bundle of the package ``find_package(where)`` finds."""
        return cls(find_package(where))

    def response(self, request: HTTPRequest, filename: str) -> HTTPResponse | None:
        """The answer to a request for ``filename``, or None when it is not a bundle file
        (or not in this package)."""
        if filename not in CLIENT_FILES or request.method not in ("GET", "HEAD"):
            return None
        if request.headers.get("if-none-match") in (self.etag, f"W/{self.etag}"):
            return HTTPResponse(304, [("ETag", self.etag)])
        accepted = {
            part.split(";")[0].strip().lower()
            for part in request.headers.get("accept-encoding", "").split(",")
        }
        wanted = "gzip" if "gzip" in accepted else "deflate" if "deflate" in accepted else None
        cached = self._cache.get((filename, wanted))
        if cached is None:
            try:
                raw = (self.dist / filename).read_bytes()
            except OSError:
                return None
            cached = compress(raw, wanted) if wanted else (raw, None)
            self._cache[(filename, wanted)] = cached
        body, encoding = cached
        kind = "json" if filename.endswith(".map") else "javascript"
        headers = [
            ("Content-Type", f"application/{kind}; charset=utf-8"),
            ("Cache-Control", "public, max-age=0"),
            ("ETag", self.etag),
            ("Vary", "Accept-Encoding"),
        ]
        if encoding is not None:
            headers.append(("Content-Encoding", encoding))
        return HTTPResponse(200, headers, body)


__all__ = ["CLIENT_FILES", "ClientBundle", "find_package"]
