"""The public API: every exported name resolves, and nothing is exported twice."""

from __future__ import annotations

import importlib

import pytest

import socketeer

PACKAGES = [
    "socketeer.engineio",
    "socketeer.socketio",
    "socketeer.client",
    "socketeer.native",
    "socketeer.exceptions",
]


def test_every_exported_name_resolves() -> None:
    assert len(set(socketeer.__all__)) == len(socketeer.__all__)
    missing = [name for name in socketeer.__all__ if not hasattr(socketeer, name)]
    assert missing == []


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = socketeer.Nope  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", PACKAGES)
def test_subpackages_export_what_they_define(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported)
    assert [n for n in exported if not hasattr(module, n)] == []


def test_exceptions_form_one_tree() -> None:
    from socketeer import exceptions

    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.SocketeerError)
    assert issubclass(socketeer.AckTimeout, TimeoutError)
