"""Binary attachments: find ``bytes`` in data, swap them for placeholders and back.

See the socket.io-protocol v5 specification, "Packet encoding": a packet whose data holds
binary is sent as a string in which every binary value is replaced by
``{"_placeholder":true,"num":N}``, followed by the N binary attachments in order
(socket.io-parser ``lib/binary.ts``).
"""

from __future__ import annotations

from typing import Any, Final

from .._types import Data
from ..exceptions import RemoteProtocolError

__all__ = ["PLACEHOLDER_KEY", "deconstruct", "has_binary", "reconstruct"]

PLACEHOLDER_KEY: Final = "_placeholder"
"""The key that marks a placeholder object."""

_NUM_KEY: Final = "num"
_BINARY_TYPES: Final = (bytes, bytearray, memoryview)


def has_binary(data: object) -> bool:
    """Tell whether ``bytes`` (or ``bytearray`` / ``memoryview``) appear anywhere in ``data``.

    Args:
        data: Any value; lists, tuples and dict values are searched recursively.

    Returns:
        ``True`` when at least one binary value is found.
    """
    kind = type(data)
    if kind is str or kind is int or kind is float or kind is bool or data is None:
        return False
    if isinstance(data, _BINARY_TYPES):
        return True
    if isinstance(data, (list, tuple)):
        return any(has_binary(item) for item in data)
    if isinstance(data, dict):
        return any(has_binary(value) for value in data.values())
    return False


def deconstruct(data: Data | bytearray | memoryview) -> tuple[Data, list[bytes]]:
    """Replace every binary value in ``data`` with a numbered placeholder.

    Args:
        data: The payload; tuples come back as lists, ``bytearray`` and ``memoryview``
            are copied to ``bytes``. ``data`` itself is not modified.

    Returns:
        The data with placeholders, and the attachments in placeholder order.
    """
    attachments: list[bytes] = []
    return _deconstruct(data, attachments), attachments


def _deconstruct(data: Any, attachments: list[bytes]) -> Any:
    if isinstance(data, _BINARY_TYPES):
        placeholder = {PLACEHOLDER_KEY: True, _NUM_KEY: len(attachments)}
        attachments.append(bytes(data))
        return placeholder
    if isinstance(data, (list, tuple)):
        return [_deconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        return {key: _deconstruct(value, attachments) for key, value in data.items()}
    return data


def reconstruct(data: Data, attachments: list[bytes]) -> Data:
    """Put the attachments back in place of their placeholders.

    A placeholder must be exactly ``{"_placeholder": true, "num": N}`` with ``N`` an
    integer (not a boolean) and ``0 <= N < len(attachments)``, and every attachment must
    be referenced exactly once: that is what every encoder produces. Any dict holding a
    ``"_placeholder"`` key is taken for a placeholder and checked.

    Args:
        data: Decoded JSON data with placeholders, in lists and dicts (not modified).
        attachments: The binary attachments received after the packet.

    Returns:
        The data with ``bytes`` in place of the placeholders.

    Raises:
        RemoteProtocolError: A placeholder is malformed, out of range or repeated, or an
            attachment is never referenced.
    """
    used = [False] * len(attachments)
    result: Data = _reconstruct(data, attachments, used)
    if not all(used):
        raise RemoteProtocolError(
            f"attachment count mismatch: {used.count(False)} of {len(attachments)} "
            "attachments are not referenced by any placeholder"
        )
    return result


def _reconstruct(data: Any, attachments: list[bytes], used: list[bool]) -> Any:
    if isinstance(data, list):
        return [_reconstruct(item, attachments, used) for item in data]
    if isinstance(data, dict):
        if PLACEHOLDER_KEY in data:
            return _resolve(data, attachments, used)
        return {key: _reconstruct(value, attachments, used) for key, value in data.items()}
    return data


def _resolve(placeholder: dict[str, Any], attachments: list[bytes], used: list[bool]) -> bytes:
    if placeholder.get(PLACEHOLDER_KEY) is not True:
        raise RemoteProtocolError('invalid placeholder: "_placeholder" must be true')
    num = placeholder.get(_NUM_KEY)
    if type(num) is not int:  # bool is an int subclass: refused; so are floats and strings
        raise RemoteProtocolError(
            f"invalid placeholder: num must be an integer, not {type(num).__name__}"
        )
    if len(placeholder) != 2:
        raise RemoteProtocolError("invalid placeholder: unexpected keys")
    if not 0 <= num < len(attachments):
        raise RemoteProtocolError(
            f"invalid placeholder: num {num} out of range for {len(attachments)} attachments"
        )
    if used[num]:
        raise RemoteProtocolError(f"invalid placeholder: attachment {num} referenced twice")
    used[num] = True
    return attachments[num]
