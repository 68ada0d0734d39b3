"""Every Python sample of docs/ runs, and every sample that defines an app is exercised.

A fenced block tagged ``python`` is executed as a module. When it defines ``app``, the app
is served with uvicorn and checked: by default the official socket.io-client connects to
it; an HTML comment right after the block (invisible on the rendered page) can script the
check instead, one step per line:

    <!-- check
    GET /health 200 ok                 an HTTP request: status, and text the body contains
    > {"cmd": "connect", "socket": "a"}        a command for js/socketio_client.mjs
    < a:event {"name": "hi", "args": [1]}      wait for an event that matches (a subset;
                                               a list ending with "..." is a prefix)
    -->

A block tagged ``python no-run`` is skipped: allowed only where the page says why (the
words "not run" within the five lines above the block).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.node import NodeScript, NodeScripts

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
STEP_TIMEOUT = 5.0
DEFAULT_CHECK = ['> {"cmd": "connect", "socket": "a"}', "< a:connect"]


@dataclass(frozen=True)
class Sample:
    path: Path
    line: int  # of the opening fence, 1-based
    tags: tuple[str, ...]
    code: str
    check: tuple[str, ...] | None
    before: tuple[str, ...]  # the lines just above the block

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def _samples(path: Path) -> Iterator[Sample]:
    lines = path.read_text("utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"^```(\w[\w+-]*)?(.*)$", lines[index])
        if fence is None:
            index += 1
            continue
        language, tags = fence.group(1) or "", tuple(fence.group(2).split())
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1
        if language in ("py", "python3", "pycon"):
            raise AssertionError(f"{path.name}:{start + 1}: tag Python samples ```python")
        if language != "python":
            continue
        after = index
        while after < len(lines) and not lines[after].strip():
            after += 1
        check: tuple[str, ...] | None = None
        if after < len(lines) and lines[after].strip() == "<!-- check":
            end = lines.index("-->", after)
            check = tuple(line.strip() for line in lines[after + 1 : end] if line.strip())
            index = end + 1
        yield Sample(
            path,
            start + 1,
            tags,
            "\n".join(body) + "\n",
            check,
            tuple(lines[max(0, start - 5) : start]),
        )


SAMPLES = [sample for path in sorted(DOCS.glob("*.md")) for sample in _samples(path)]


def test_the_docs_have_samples() -> None:
    assert len([s for s in SAMPLES if "no-run" not in s.tags]) >= 20
    for sample in SAMPLES:
        if "no-run" in sample.tags:
            assert any("not run" in line for line in sample.before), (
                f"{sample.id}: a ```python no-run block needs the reason just above it"
            )
        assert set(sample.tags) <= {"no-run"}, f"{sample.id}: unknown tags {sample.tags}"


def matches(expected: Any, found: Any) -> bool:
    """Whether ``found`` has everything ``expected`` has (dicts: a subset of keys)."""
    if isinstance(expected, dict):
        return isinstance(found, dict) and all(
            key in found and matches(value, found[key]) for key, value in expected.items()
        )
    if isinstance(expected, list) and expected[-1:] == ["..."]:  # a prefix
        head = expected[:-1]
        return (
            isinstance(found, list)
            and len(found) >= len(head)
            and matches(head, found[: len(head)])
        )
    if isinstance(expected, list):
        return (
            isinstance(found, list)
            and len(found) == len(expected)
            and all(matches(e, f) for e, f in zip(expected, found, strict=True))
        )
    return bool(expected == found)


async def expect_matching(client: NodeScript, event: str, expected: dict[str, Any]) -> None:
    """Wait for an ``event`` that matches ``expected`` (others of that name are passed)."""
    loop_time = __import__("asyncio").get_running_loop().time
    deadline = loop_time() + STEP_TIMEOUT
    passed: list[dict[str, Any]] = []
    while True:
        left = deadline - loop_time()
        if left <= 0:
            raise AssertionError(
                f"no {event} matching {expected}; passed {passed}\n{client.output()}"
            )
        try:
            found = await client.expect(event, timeout=left)
        except AssertionError:
            raise AssertionError(f"no {event} matching {expected}; passed {passed}") from None
        if matches(expected, found):
            return
        passed.append(found)


@pytest.mark.parametrize(
    "sample", [s for s in SAMPLES if "no-run" not in s.tags], ids=lambda s: s.id
)
async def test_sample(sample: Sample, serve_asgi: Any, node: NodeScripts) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_sample_{sample.path.stem}_{sample.line}"}
    exec(compile(sample.code, sample.id, "exec"), namespace)  # our own docs
    app = namespace.get("app")
    if app is None:
        assert sample.check is None, f"{sample.id}: a check, but no app to check"
        return
    url = await serve_asgi(app)
    client: NodeScript | None = None
    for step in sample.check if sample.check is not None else DEFAULT_CHECK:
        if step.startswith("GET "):
            _, path, status, *text = step.split(maxsplit=3)
            async with httpx.AsyncClient(timeout=STEP_TIMEOUT) as http:
                response = await http.get(url + path)
            assert response.status_code == int(status), (step, response.text)
            assert not text or text[0] in response.text, (step, response.text)
        elif step.startswith(">"):
            if client is None:
                client = await node("socketio_client", url)
                await client.expect("ready")
            await client.send(json.loads(step[1:]))
        elif step.startswith("<"):
            assert client is not None, f"{sample.id}: expect before any command"
            event, _, rest = step[1:].strip().partition(" ")
            await expect_matching(client, event, json.loads(rest) if rest else {})
        else:
            raise AssertionError(f"{sample.id}: cannot read check step {step!r}")
    if client is not None:
        assert client.seen("command_error") == [], client.output()
