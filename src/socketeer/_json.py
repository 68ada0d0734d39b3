"""JSON as JavaScript writes and reads it, fast.

``dumps`` produces what ``JSON.stringify`` would for the same value, where it matters on
the wire: compact separators, ``NaN`` / ``Infinity`` written as ``null``, non-ASCII text
kept as UTF-8 (not ``\\uXXXX``-escaped), lone surrogates escaped (ES2019 "well-formed
JSON.stringify"). ``loads`` accepts exactly what ``JSON.parse`` accepts: the ``NaN`` /
``Infinity`` literals are rejected, integers beyond 64 bits become floats (JavaScript
numbers), ``1e400`` becomes ``inf`` and escaped lone surrogates are kept.

orjson (a hard dependency) does the work; the standard library takes over only for what
orjson refuses (integers beyond 64 bits and non-``str`` keys on output, lone surrogates,
nesting orjson does not allow). No depth limit is enforced here: the Socket.IO decoder
applies its own before trusting a payload.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_orjson_dumps = orjson.dumps
_orjson_loads = orjson.loads

_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64_MIN = -(2**63)
_UINT64_LIMIT = 2**64


def dumps(obj: Any) -> str:
    """Serialise ``obj`` to a compact JSON string, the way ``JSON.stringify`` does.

    Args:
        obj: JSON-like data: ``None``, ``bool``, ``int``, ``float``, ``str``, lists,
            tuples and dicts (plus what orjson natively supports, e.g. dataclasses).

    Returns:
        The JSON text.

    Raises:
        TypeError: ``obj`` holds a value JSON cannot represent (``bytes``, ``set``...).
        ValueError: ``obj`` is nested too deeply to serialise.
    """
    try:
        return _orjson_dumps(obj).decode()
    except TypeError:
        # orjson refuses integers beyond 64 bits, non-str keys, lone surrogates and
        # more than 254 levels of nesting: the standard library handles those.
        return _fallback_dumps(obj)


def loads(s: str | bytes) -> Any:
    """Parse JSON text the way ``JSON.parse`` does.

    Args:
        s: The JSON text; ``bytes`` must be UTF-8.

    Returns:
        The parsed value (dicts, lists, str, int, float, bool, None).

    Raises:
        ValueError: ``s`` is not valid JSON, is not valid UTF-8, or uses the ``NaN`` /
            ``Infinity`` literals (``JSON.parse`` rejects those too).
    """
    try:
        return _orjson_loads(s)
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        return _fallback_loads(s)


def _fallback_loads(s: str | bytes) -> Any:
    # Reached when orjson refuses the text. JSON.parse accepts two things orjson does
    # not: escaped lone surrogates ("\ud800") and numbers overflowing a double (1e400).
    # Everything else orjson refused is invalid for the standard library too.
    if isinstance(s, str):
        s.encode("utf-8")  # raw (unescaped) surrogates are not text: UnicodeEncodeError
    else:
        s = bytes(s).decode("utf-8")  # no UTF-16/32 detection, unlike json.loads(bytes)
    try:
        return json.loads(s, parse_constant=_reject_constant, parse_int=_js_int)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _js_int(digits: str) -> int | float:
    # Mirror orjson (and JavaScript numbers): integers that do not fit 64 bits are floats.
    if len(digits) <= 21:
        value = int(digits)
        if _INT64_MIN <= value < _UINT64_LIMIT:
            return value
    return float(digits)


def _fallback_dumps(obj: Any) -> str:
    try:
        text = json.dumps(
            _js_compatible(obj),
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
            default=_orjson_default,
        )
    except RecursionError:
        raise ValueError("data nested too deeply to serialise") from None
    # Lone surrogates can only sit inside string literals: escape them as
    # JSON.stringify does, so the text can be encoded as UTF-8.
    return _SURROGATE.sub(_escape_surrogate, text)


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _orjson_default(obj: Any) -> Any:
    # Types orjson serialises natively (dataclasses, datetime, UUID...) keep the same
    # representation when the fallback path runs.
    return _orjson_loads(_orjson_dumps(obj))


def _js_compatible(obj: Any) -> Any:
    """Copy ``obj`` with the JSON.stringify conventions the stdlib encoder lacks."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {_js_key(key): _js_compatible(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_js_compatible(item) for item in obj]
    return obj


def _js_key(key: Any) -> Any:
    # JavaScript object keys are strings. json.dumps already writes True/False/None/int
    # keys as "true"/"false"/"null"/digits; float keys need String(number)'s spelling
    # (String(1.0) == "1", String(NaN) == "NaN"), which allow_nan=False would refuse.
    if not isinstance(key, float):
        return key  # str, bool, None, int; other types make json.dumps raise TypeError
    if math.isnan(key):
        return "NaN"
    if math.isinf(key):
        return "Infinity" if key > 0 else "-Infinity"
    return str(int(key)) if key.is_integer() else repr(key)
