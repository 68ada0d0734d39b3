"""``socketeer._json``: JSON as ``JSON.stringify`` writes it and ``JSON.parse`` reads it."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from typing import Any

import pytest

from socketeer import _json


@dataclasses.dataclass
class Point:
    x: int
    y: int


class TestDumps:
    def test_compact_and_utf8(self) -> None:
        assert _json.dumps({"a": [1, 2.5, "é✓😀"], "b": None}) == '{"a":[1,2.5,"é✓😀"],"b":null}'

    def test_non_finite_numbers_are_null(self) -> None:
        assert _json.dumps([math.nan, math.inf, -math.inf]) == "[null,null,null]"

    def test_tuples_are_arrays(self) -> None:
        assert _json.dumps((1, (2,))) == "[1,[2]]"

    def test_integers_beyond_64_bits(self) -> None:
        assert _json.dumps([2**64, -(2**63) - 1, math.nan]) == f"[{2**64},{-(2**63) - 1},null]"

    @pytest.mark.parametrize(
        ("key", "text"),
        [
            (1, "1"),
            (True, "true"),
            (None, "null"),
            (1.0, "1"),
            (1.5, "1.5"),
            (math.nan, "NaN"),
            (math.inf, "Infinity"),
            (-math.inf, "-Infinity"),
        ],
    )
    def test_non_string_keys_as_javascript_strings(self, key: Any, text: str) -> None:
        assert _json.dumps({key: 0}) == '{"%s":0}' % text  # noqa: UP031 - JSON braces

    def test_lone_surrogates_are_escaped(self) -> None:
        text = _json.dumps({"\udc00": ["a\ud800b", "ok"]})
        assert text == '{"\\udc00":["a\\ud800b","ok"]}'
        text.encode("utf-8")  # the result is valid text
        assert _json.loads(text) == {"\udc00": ["a\ud800b", "ok"]}

    def test_orjson_types_keep_their_form_in_the_fallback(self) -> None:
        moment = datetime.datetime(2000, 6, 13, tzinfo=datetime.UTC)
        expected = '[{"x":1,"y":2},"2000-06-13T00:00:00+00:00"]'
        assert _json.dumps([Point(1, 2), moment]) == expected
        # A huge integer forces the stdlib fallback, which must agree.
        assert _json.dumps([Point(1, 2), moment, 2**64]) == expected[:-1] + f",{2**64}]"

    def test_deep_nesting_beyond_orjson(self) -> None:
        value: Any = []
        for _ in range(300):  # orjson stops at 254 levels
            value = [value]
        assert _json.dumps(value) == "[" * 301 + "]" * 301

    def test_nesting_beyond_the_stack(self) -> None:
        value: Any = []
        for _ in range(100_000):
            value = [value]
        with pytest.raises(ValueError, match="too deeply"):
            _json.dumps(value)

    @pytest.mark.parametrize("value", [b"x", {1, 2}, object(), [1, {"k": b"x"}], {(1, 2): 3}])
    def test_unserialisable(self, value: Any) -> None:
        with pytest.raises(TypeError):
            _json.dumps(value)


class TestLoads:
    def test_plain(self) -> None:
        assert _json.loads('{"a":[1,2.5,"é",null,true]}') == {"a": [1, 2.5, "é", None, True]}
        assert _json.loads(b'["\xc3\xa9"]') == ["é"]

    @pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a":-Infinity}', "[1,NaN]"])
    def test_non_finite_literals_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="not valid JSON"):
            _json.loads(text)

    def test_escaped_lone_surrogates_are_kept(self) -> None:
        assert _json.loads('["\\ud800", 1]') == ["\ud800", 1]
        assert _json.loads(b'["\\udfff"]') == ["\udfff"]

    def test_raw_lone_surrogates_are_not_text(self) -> None:
        with pytest.raises(ValueError, match="surrogate"):
            _json.loads('["\ud800"]')

    def test_invalid_utf8(self) -> None:
        with pytest.raises(ValueError, match="utf-8"):
            _json.loads(b'["\xff"]')

    def test_no_encoding_detection(self) -> None:
        with pytest.raises(ValueError):
            _json.loads('["a"]'.encode("utf-16"))

    def test_numbers_like_javascript(self) -> None:
        assert _json.loads("[18446744073709551616, 1e400, -0]") == [float(2**64), math.inf, 0]
        # The same through the fallback path (an escaped lone surrogate forces it).
        big = "1" * 30
        value = _json.loads(f'["\\ud800", 5, -9223372036854775808, 18446744073709551616, {big}]')
        assert value == ["\ud800", 5, -(2**63), float(2**64), float(big)]
        assert [type(item) for item in value[1:]] == [int, int, float, float]

    def test_deep_nesting_is_an_error_not_a_crash(self) -> None:
        with pytest.raises(ValueError):
            _json.loads("[" * 100_000 + "]" * 100_000)
        with pytest.raises(ValueError, match="too deeply"):
            _json.loads('["\\ud800",' + "[" * 5000 + "]" * 5000 + "]")

    @pytest.mark.parametrize("text", ["", "[", "{'a':1}", "[1,]", "01", "\ufeff[]"])
    def test_invalid(self, text: str) -> None:
        with pytest.raises(ValueError):
            _json.loads(text)

    def test_agrees_with_the_standard_library(self) -> None:
        document = {"a": [1, -2, 3.25, "x\u2028y", {"b": [None, False, {}]}]}
        assert _json.loads(_json.dumps(document)) == json.loads(json.dumps(document))
