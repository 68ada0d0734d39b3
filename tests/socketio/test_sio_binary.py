"""``socketio.binary``: placeholders in, placeholders out (socket.io-parser ``binary.ts``)."""

from __future__ import annotations

from typing import Any

import pytest

from socketeer._types import Data
from socketeer.exceptions import RemoteProtocolError
from socketeer.socketio import PLACEHOLDER_KEY, deconstruct, has_binary, reconstruct


def ph(num: int) -> dict[str, Any]:
    return {PLACEHOLDER_KEY: True, "num": num}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, False),
        (True, False),
        (1, False),
        (1.5, False),
        ("bytes", False),
        ([], False),
        ({}, False),
        (["a", {"b": [1, (2, 3)]}], False),
        (b"", True),
        (bytearray(b"x"), True),
        (memoryview(b"x"), True),
        (["a", {"b": [1, (2, b"x")]}], True),
        ({"k": {"j": b"x"}}, True),
        (object(), False),
    ],
)
def test_has_binary(data: Any, expected: bool) -> None:
    assert has_binary(data) is expected


def test_deconstruct_numbers_in_depth_first_order() -> None:
    data = ["a", {"x": b"0", "y": [bytearray(b"1"), (memoryview(b"2"),)]}, b"3"]
    stripped, attachments = deconstruct(data)  # type: ignore[arg-type]
    assert stripped == ["a", {"x": ph(0), "y": [ph(1), [ph(2)]]}, ph(3)]
    assert attachments == [b"0", b"1", b"2", b"3"]
    assert all(type(item) is bytes for item in attachments)


def test_deconstruct_without_binary() -> None:
    assert deconstruct({"a": (1, "b")}) == ({"a": [1, "b"]}, [])
    assert deconstruct(b"top") == (ph(0), [b"top"])


def test_reconstruct_inverts_deconstruct() -> None:
    data: Data = ["a", {"x": b"0", "y": [b"1", {"z": b"2"}]}, b"3", None, 1.5]
    stripped, attachments = deconstruct(data)
    assert reconstruct(stripped, attachments) == data
    assert stripped == ["a", {"x": ph(0), "y": [ph(1), {"z": ph(2)}]}, ph(3), None, 1.5]


def test_reconstruct_in_any_order() -> None:
    assert reconstruct([ph(1), ph(0)], [b"a", b"b"]) == [b"b", b"a"]


def test_reconstruct_leaves_input_alone() -> None:
    stripped: Data = ["a", ph(0)]
    reconstruct(stripped, [b"x"])
    assert stripped == ["a", ph(0)]


@pytest.mark.parametrize(
    ("data", "count", "match"),
    [
        (["a"], 1, "not referenced"),
        ([ph(0)], 2, "1 of 2"),
        ([ph(1)], 1, "out of range"),
        ([ph(-1)], 1, "out of range"),
        ([{PLACEHOLDER_KEY: True, "num": True}], 1, "bool"),
        ([{PLACEHOLDER_KEY: True, "num": 0.0}], 1, "float"),
        ([{PLACEHOLDER_KEY: True, "num": "0"}], 1, "str"),
        ([{PLACEHOLDER_KEY: True}], 1, "NoneType"),
        ([{PLACEHOLDER_KEY: False, "num": 0}], 1, "must be true"),
        ([{PLACEHOLDER_KEY: 1, "num": 0}], 1, "must be true"),
        ([{PLACEHOLDER_KEY: True, "num": 0, "x": 1}], 1, "unexpected keys"),
        ([ph(0), {"a": ph(0)}], 2, "twice"),
    ],
)
def test_reconstruct_refuses(data: Data, count: int, match: str) -> None:
    with pytest.raises(RemoteProtocolError, match=match):
        reconstruct(data, [b"x"] * count)
