"""``EngineConfig``: the JS engine.io defaults, validation, and the advertised upgrades."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from socketeer.engineio import EngineConfig, Transport


class TestDefaults:
    def test_js_defaults(self) -> None:
        config = EngineConfig()
        assert config.ping_interval == 25.0
        assert config.ping_timeout == 20.0
        assert config.upgrade_timeout == 10.0
        assert config.max_http_buffer_size == 1_000_000
        assert config.close_timeout == 30.0
        assert config.transports == (Transport.POLLING, Transport.WEBSOCKET)
        assert config.allow_upgrades is True
        assert config.max_payload_packets >= 1

    def test_frozen_and_keyword_only(self) -> None:
        config = EngineConfig()
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.ping_interval = 1.0  # type: ignore[misc]
        with pytest.raises(TypeError):
            EngineConfig(1.0)  # type: ignore[misc]

    def test_transport_names_are_converted(self) -> None:
        config = EngineConfig(transports=("websocket",))  # type: ignore[arg-type]
        assert config.transports == (Transport.WEBSOCKET,)
        assert config.transports[0] is Transport.WEBSOCKET

    def test_transports_list_becomes_a_tuple(self) -> None:
        config = EngineConfig(transports=[Transport.POLLING])  # type: ignore[arg-type]
        assert config.transports == (Transport.POLLING,)


class TestValidation:
    @pytest.mark.parametrize(
        "name", ["ping_interval", "ping_timeout", "upgrade_timeout", "close_timeout"]
    )
    @pytest.mark.parametrize("value", [0, 0.0, -1.0, -math.inf, math.nan])
    def test_durations_must_be_positive(self, name: str, value: float) -> None:
        with pytest.raises(ValueError, match=f"{name} must be positive"):
            EngineConfig(**{name: value})

    @pytest.mark.parametrize(
        "name", ["ping_interval", "ping_timeout", "upgrade_timeout", "close_timeout"]
    )
    def test_small_durations_are_accepted(self, name: str) -> None:
        assert getattr(EngineConfig(**{name: 0.001}), name) == 0.001

    @pytest.mark.parametrize("value", [0, -1])
    def test_max_http_buffer_size(self, value: int) -> None:
        with pytest.raises(ValueError, match="max_http_buffer_size must be at least 1"):
            EngineConfig(max_http_buffer_size=value)
        assert EngineConfig(max_http_buffer_size=1).max_http_buffer_size == 1

    @pytest.mark.parametrize("value", [0, -1])
    def test_max_payload_packets(self, value: int) -> None:
        with pytest.raises(ValueError, match="max_payload_packets must be at least 1"):
            EngineConfig(max_payload_packets=value)
        assert EngineConfig(max_payload_packets=1).max_payload_packets == 1

    def test_at_least_one_transport(self) -> None:
        with pytest.raises(ValueError, match="at least one transport"):
            EngineConfig(transports=())

    @pytest.mark.parametrize("name", ["tobi", "webtransport", "__proto__", "POLLING"])
    def test_unknown_transport_name(self, name: Any) -> None:
        with pytest.raises(ValueError, match=repr(name)):
            EngineConfig(transports=(Transport.POLLING, name))


class TestUpgradesFor:
    """The ``upgrades`` list of the handshake (JS ``Socket.getAvailableUpgrades``)."""

    def test_polling_may_upgrade_to_websocket(self) -> None:
        assert EngineConfig().upgrades_for(Transport.POLLING) == ["websocket"]

    def test_websocket_has_no_upgrades(self) -> None:
        assert EngineConfig().upgrades_for(Transport.WEBSOCKET) == []

    def test_upgrades_disabled(self) -> None:
        config = EngineConfig(allow_upgrades=False)
        assert config.upgrades_for(Transport.POLLING) == []

    def test_websocket_not_enabled(self) -> None:
        config = EngineConfig(transports=(Transport.POLLING,))
        assert config.upgrades_for(Transport.POLLING) == []

    def test_websocket_only(self) -> None:
        config = EngineConfig(transports=(Transport.WEBSOCKET,))
        assert config.upgrades_for(Transport.WEBSOCKET) == []

    def test_transport_order_does_not_matter(self) -> None:
        config = EngineConfig(transports=(Transport.WEBSOCKET, Transport.POLLING))
        assert config.upgrades_for(Transport.POLLING) == ["websocket"]
