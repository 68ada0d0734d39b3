"""Request checks and the official error codes (JS engine.io ``Server.verify``).

Codes: 0 Transport unknown, 1 Session ID unknown, 2 Bad handshake method, 3 Bad request,
4 Forbidden, 5 Unsupported protocol version; JSON ``{"code":N,"message":"..."}`` with HTTP
400 (403 for 4).
"""

from __future__ import annotations

import json

import pytest

from socketeer._types import SessionId
from socketeer.engineio import (
    ERROR_MESSAGES,
    PROTOCOL_VERSION,
    EngineConfig,
    EngineError,
    EngineRequest,
    ErrorCode,
    ServerSession,
    Transport,
    check_session,
    parse_request,
)

from .helpers import SID, assert_error, new_session, poll, post, upgrade

POLLING = {"EIO": "4", "transport": "polling"}
WEBSOCKET = {"EIO": "4", "transport": "websocket"}


def parse(
    query: dict[str, str],
    *,
    method: str = "GET",
    websocket: bool = False,
    config: EngineConfig | None = None,
) -> EngineRequest | EngineError:
    return parse_request(
        method=method, query=query, websocket=websocket, config=config or EngineConfig()
    )


class TestErrorBodies:
    """The JSON body and HTTP status of each official error."""

    @pytest.mark.parametrize(
        ("code", "message"),
        [
            (ErrorCode.UNKNOWN_TRANSPORT, "Transport unknown"),
            (ErrorCode.UNKNOWN_SID, "Session ID unknown"),
            (ErrorCode.BAD_HANDSHAKE_METHOD, "Bad handshake method"),
            (ErrorCode.BAD_REQUEST, "Bad request"),
            (ErrorCode.FORBIDDEN, "Forbidden"),
            (ErrorCode.UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version"),
        ],
    )
    def test_official_code_and_message(self, code: ErrorCode, message: str) -> None:
        assert ERROR_MESSAGES[code] == message
        error = EngineError.of(code, "some context")
        assert error.message == message
        assert error.context == "some context"
        body = json.loads(error.body())
        assert body.pop("code") == int(code)
        assert body.pop("message") == message
        if code is ErrorCode.UNSUPPORTED_PROTOCOL_VERSION:
            assert body.pop("context") == {"supported": [4], "detail": "some context"}
        else:
            assert error.body() == f'{{"code":{int(code)},"message":"{message}"}}'.encode()
        assert body == {}

    @pytest.mark.parametrize("code", list(ErrorCode))
    def test_status_is_403_only_for_forbidden(self, code: ErrorCode) -> None:
        expected = 403 if code is ErrorCode.FORBIDDEN else 400
        assert EngineError.of(code).status == expected

    def test_custom_message(self) -> None:
        error = EngineError.of(ErrorCode.FORBIDDEN, message='no "entry"')
        assert error.status == 403
        assert error.context == ""
        assert json.loads(error.body()) == {"code": 4, "message": 'no "entry"'}

    def test_codes_are_the_official_integers(self) -> None:
        assert [int(c) for c in ErrorCode] == [0, 1, 2, 3, 4, 5]
        assert set(ERROR_MESSAGES) == set(ErrorCode)


class TestHandshakeRequests:
    """Requests without ``sid``: a new session."""

    def test_polling_handshake(self) -> None:
        assert parse(POLLING) == EngineRequest("GET", Transport.POLLING, None, False)

    def test_websocket_handshake(self) -> None:
        request = parse(WEBSOCKET, websocket=True)
        assert request == EngineRequest("GET", Transport.WEBSOCKET, None, True)

    def test_protocol_version(self) -> None:
        assert PROTOCOL_VERSION == "4"

    def test_extra_query_parameters_are_ignored(self) -> None:
        request = parse({**POLLING, "t": "N8hyd6w", "b64": "1", "j": "0"})
        assert isinstance(request, EngineRequest)


class TestUnknownTransport:
    """Code 0: the transport is missing or not enabled (JS: "Transport unknown")."""

    @pytest.mark.parametrize(
        "transport",
        ["tobi", "abc", "", "POLLING", "Polling", "websocket ", "webtransport", "flashsocket"],
    )
    def test_unknown_names(self, transport: str) -> None:
        assert_error(parse({"EIO": "4", "transport": transport}), ErrorCode.UNKNOWN_TRANSPORT)

    @pytest.mark.parametrize(
        "transport",
        [
            "__proto__",
            "constructor",
            "__class__",
            "__dict__",
            "__init__",
            "hasOwnProperty",
            "POLLING",
            "value",
            "name",
            "_value_",
            "toString",
        ],
    )
    def test_peer_chosen_names_are_not_attributes(self, transport: str) -> None:
        assert_error(parse({"EIO": "4", "transport": transport}), ErrorCode.UNKNOWN_TRANSPORT)
        ws = parse({"EIO": "4", "transport": transport}, websocket=True)
        assert_error(ws, ErrorCode.UNKNOWN_TRANSPORT)

    def test_missing_transport(self) -> None:
        error = parse({"EIO": "4"})
        assert_error(error, ErrorCode.UNKNOWN_TRANSPORT)
        assert isinstance(error, EngineError)
        assert error.body() == b'{"code":0,"message":"Transport unknown"}'

    def test_transport_not_enabled(self) -> None:
        polling_only = EngineConfig(transports=(Transport.POLLING,))
        result = parse(WEBSOCKET, websocket=True, config=polling_only)
        assert_error(result, ErrorCode.UNKNOWN_TRANSPORT)
        websocket_only = EngineConfig(transports=(Transport.WEBSOCKET,))
        assert_error(parse(POLLING, config=websocket_only), ErrorCode.UNKNOWN_TRANSPORT)

    def test_transport_is_checked_first(self) -> None:
        result = parse({"transport": "nope"}, method="PUT", websocket=True)
        assert_error(result, ErrorCode.UNKNOWN_TRANSPORT)


class TestUnsupportedProtocolVersion:
    """Code 5: ``EIO`` missing or not 4 (the test suite: missing and ``abc`` give 400)."""

    @pytest.mark.parametrize(
        "query",
        [
            pytest.param({"transport": "polling"}, id="missing"),
            pytest.param({"transport": "polling", "EIO": "3"}, id="EIO=3"),
            pytest.param({"transport": "polling", "EIO": "abc"}, id="EIO=abc"),
            pytest.param({"transport": "polling", "EIO": ""}, id="empty"),
            pytest.param({"transport": "polling", "EIO": "4 "}, id="EIO=4-space"),
            pytest.param({"transport": "polling", "EIO": "5"}, id="EIO=5"),
            pytest.param({"transport": "websocket", "EIO": "3"}, id="websocket-EIO=3"),
        ],
    )
    def test_refused(self, query: dict[str, str]) -> None:
        websocket = query["transport"] == "websocket"
        assert_error(parse(query, websocket=websocket), ErrorCode.UNSUPPORTED_PROTOCOL_VERSION)

    def test_body_is_the_official_one(self) -> None:
        # JS engine.io: handshake() calls closeConnection(UNSUPPORTED_PROTOCOL_VERSION) with
        # no context, so abortRequest() answers errorMessages[5] verbatim.
        error = parse({"transport": "polling", "EIO": "3"})
        assert isinstance(error, EngineError)
        assert error.status == 400
        body = json.loads(error.body())
        assert body["code"] == 5
        assert body["message"] == "Unsupported protocol version"
        # Beyond JS: the answer says which version this server supports.
        assert body["context"]["supported"] == [4]
        assert "EIO='3'" in body["context"]["detail"]


class TestBadHandshakeMethod:
    """Code 2: a handshake is GET only (the test suite: POST and PUT give 400)."""

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
    def test_refused(self, method: str) -> None:
        error = parse(POLLING, method=method)
        assert_error(error, ErrorCode.BAD_HANDSHAKE_METHOD)
        assert isinstance(error, EngineError)
        assert json.loads(error.body()) == {"code": 2, "message": "Bad handshake method"}


class TestBadRequest:
    """Code 3: mismatched WebSocket flag, bad methods with a sid, polling after upgrade."""

    def test_websocket_transport_without_a_websocket(self) -> None:
        assert_error(parse(WEBSOCKET, websocket=False), ErrorCode.BAD_REQUEST)
        query = {**WEBSOCKET, "sid": SID}
        assert_error(parse(query, websocket=False), ErrorCode.BAD_REQUEST)

    def test_websocket_with_the_polling_transport(self) -> None:
        assert_error(parse(POLLING, websocket=True), ErrorCode.BAD_REQUEST)
        query = {**POLLING, "sid": SID}
        assert_error(parse(query, websocket=True), ErrorCode.BAD_REQUEST)

    @pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
    def test_bad_method_with_a_sid(self, method: str) -> None:
        error = parse({**POLLING, "sid": SID}, method=method)
        assert_error(error, ErrorCode.BAD_REQUEST)
        assert isinstance(error, EngineError)
        assert error.body() == b'{"code":3,"message":"Bad request"}'

    def test_websocket_must_be_get(self) -> None:
        error = parse({**WEBSOCKET, "sid": SID}, method="POST", websocket=True)
        assert_error(error, ErrorCode.BAD_REQUEST)

    def test_polling_after_upgrade(self) -> None:
        session = new_session()
        upgrade(session)
        for method in ("GET", "POST"):
            request = parse({**POLLING, "sid": SID}, method=method)
            assert isinstance(request, EngineRequest)
            assert_error(check_session(request, session), ErrorCode.BAD_REQUEST)

    def test_polling_on_a_websocket_only_session(self) -> None:
        session = new_session(Transport.WEBSOCKET)
        request = parse({**POLLING, "sid": SID})
        assert isinstance(request, EngineRequest)
        assert_error(check_session(request, session), ErrorCode.BAD_REQUEST)


class TestSessionRequests:
    """Requests with a ``sid`` (then ``check_session`` with the session found, if any)."""

    @pytest.mark.parametrize("method", ["GET", "POST"])
    def test_polling_request(self, method: str) -> None:
        request = parse({**POLLING, "sid": SID}, method=method)
        assert request == EngineRequest(method, Transport.POLLING, SID, False)
        assert check_session(request, new_session()) is None

    def test_websocket_upgrade_request(self) -> None:
        request = parse({**WEBSOCKET, "sid": SID}, websocket=True)
        assert request == EngineRequest("GET", Transport.WEBSOCKET, SID, True)
        assert check_session(request, new_session()) is None

    def test_second_websocket_after_upgrade_passes_the_check(self) -> None:
        # It is refused later by begin_upgrade (test suite: "ignores WebSocket connection
        # with same sid after upgrade").
        session = new_session()
        upgrade(session)
        request = parse({**WEBSOCKET, "sid": SID}, websocket=True)
        assert isinstance(request, EngineRequest)
        assert check_session(request, session) is None
        assert_error(session.begin_upgrade(0.0), ErrorCode.BAD_REQUEST)


class TestUnknownSid:
    """Code 1: no session with that sid, or a closed one."""

    @pytest.mark.parametrize(
        "sid",
        ["test", "__proto__", "constructor", "__class__", "__dict__", "hasOwnProperty", "x" * 500],
    )
    def test_unknown_sid(self, sid: str) -> None:
        sessions: dict[SessionId, ServerSession] = {SID: new_session()}
        request = parse({**POLLING, "sid": sid})
        assert isinstance(request, EngineRequest)
        assert request.sid == sid
        error = check_session(request, sessions.get(SessionId(sid)))
        assert_error(error, ErrorCode.UNKNOWN_SID)
        assert isinstance(error, EngineError)
        assert error.body() == b'{"code":1,"message":"Session ID unknown"}'

    def test_closed_session(self) -> None:
        session = new_session()
        assert post(session, "1") is None
        request = parse({**POLLING, "sid": SID})
        assert isinstance(request, EngineRequest)
        assert_error(check_session(request, session), ErrorCode.UNKNOWN_SID)

    def test_websocket_for_a_closed_session(self) -> None:
        session = new_session()
        assert post(session, "1") is None
        request = parse({**WEBSOCKET, "sid": SID}, websocket=True)
        assert isinstance(request, EngineRequest)
        assert_error(check_session(request, session), ErrorCode.UNKNOWN_SID)

    def test_closing_session_still_answers_polls(self) -> None:
        session = new_session()
        session.close(0.0)
        request = parse({**POLLING, "sid": SID})
        assert isinstance(request, EngineRequest)
        assert check_session(request, session) is None
        assert poll(session) == "1"


class TestForbidden:
    """Code 4 is decided by the application (JS ``allowRequest``); answered with 403."""

    def test_forbidden_body_and_status(self) -> None:
        error = EngineError.of(ErrorCode.FORBIDDEN, "allow_request said no")
        assert_error(error, ErrorCode.FORBIDDEN, status=403)
        assert error.body() == b'{"code":4,"message":"Forbidden"}'
