"""``MockApp``: the built-in apps of one server behind one router.

Everything it answers is deterministic: the same request to an app with the same options gives
the same tokens, ids (a per-app counter) and events; only ``created`` is the wall clock, read
through the injected ``clock``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from reactsse.mock.chat import ChatStream
from reactsse.mock.common import JSONObject, json_body
from reactsse.mock.completion import CompletionStream
from reactsse.mock.events import events_reply
from reactsse.mock.faults import Fault, parse_fault, status_fault_reply
from reactsse.mock.options import MockOptions
from reactsse.mock.responses import ResponsesStream
from reactsse.mock.text_completion import TextCompletionStream
from reactsse.server.app import BodyReply, Reply, Request, error_reply

__all__ = ["MODEL_ID", "MockApp"]

MODEL_ID = "reactsse-alice-1"
"""The model the mock lists under ``GET /v1/models``; any model name is accepted and echoed."""

_CREATED = 1_732_492_800  # the listed model's "created" (a fixed date: output stays deterministic)

_ROUTES: dict[str, tuple[str, ...]] = {
    "/": ("GET",),
    "/events": ("GET",),
    "/v1/models": ("GET",),
    "/v1/chat/completions": ("POST",),
    "/v1/completions": ("POST",),
    "/v1/responses": ("POST",),
}

_INDEX = """reactsse test server
GET  /events?count=N&interval=S&drop_every=M&retry=MS   numbered events, resumes from Last-Event-ID
GET  /v1/models
POST /v1/chat/completions   (OpenAI-compatible; stream or not; tools -> a tool call)
POST /v1/completions        (text completions: a prompt; stream or not)
POST /v1/responses          (OpenAI Responses API; stream or not)
Header X-Reactsse-Fault: error-after=N, disconnect-after=N, stall-after=N, status=CODE
"""


_APIS: dict[str, type[CompletionStream[Any]]] = {
    "/v1/chat/completions": ChatStream,
    "/v1/completions": TextCompletionStream,
    "/v1/responses": ResponsesStream,
}


class MockApp:
    """The built-in OpenAI-compatible and ``/events`` apps: ``app(request) -> Reply``.

    ``MockApp(options=None, *, clock=time.time)``: ``options`` is a :class:`MockOptions`;
    ``clock`` gives the ``created`` timestamps. Never raises for bad input (that is a 4xx).
    """

    def __init__(
        self, options: MockOptions | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.options = options if options is not None else MockOptions()
        self._clock = clock
        self._counter = 0
        self._default_fault = parse_fault(self.options.fault) if self.options.fault else Fault()

    def __repr__(self) -> str:
        return f"MockApp({self.options!r})"

    def _next_id(self) -> int:
        self._counter += 1
        return self._counter

    def __call__(self, request: Request, /) -> Reply:
        path = request.path
        if path.startswith("/v1/models/") and request.method == "GET":
            return self._model(path.removeprefix("/v1/models/"), request)
        allowed = _ROUTES.get(path)
        if allowed is None:
            # Every error body is OpenAI's JSON shape, on /v1 and elsewhere alike.
            return error_reply(
                404, f"Invalid URL ({request.method} {path})", "invalid_request_error"
            )
        if request.method == "OPTIONS":
            return _preflight(request, allowed)
        if request.method not in allowed:
            error = error_reply(
                405,
                f"Method {request.method} not allowed for {path}; use {', '.join(allowed)}.",
                "invalid_request_error",
            )
            return dataclasses.replace(error, headers=(("Allow", ", ".join(allowed)),))
        fault = self._default_fault
        header = request.headers.get("x-reactsse-fault")
        if header is not None:
            try:
                fault = fault.merged(parse_fault(header))
            except ValueError as error:
                return error_reply(400, f"X-Reactsse-Fault: {error}", "invalid_request_error")
        if path == "/":
            return BodyReply(200, _INDEX)
        if path == "/events":
            return events_reply(request, self.options, fault)
        return self._api(path, request, fault)

    def _api(self, path: str, request: Request, fault: Fault) -> Reply:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        if fault.status is not None:
            return status_fault_reply(fault.status)
        if path == "/v1/models":
            return BodyReply(200, {"object": "list", "data": [_model_object()]})
        body = json_body(request)
        if isinstance(body, BodyReply):
            return body
        created = int(self._clock())
        return _APIS[path].answer(body, self.options, self._next_id(), created, fault)

    def _authorize(self, request: Request) -> BodyReply | None:
        if self.options.api_key is None:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_reply(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        token = token.strip()
        if token != self.options.api_key:
            shown = (
                token[:3] + "*" * max(0, len(token) - 7) + token[-4:] if len(token) > 7 else "***"
            )
            return error_reply(
                401,
                f"Incorrect API key provided: {shown}.",
                "invalid_request_error",
                code="invalid_api_key",
            )
        return None

    def _model(self, name: str, request: Request) -> Reply:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        if name != MODEL_ID:
            return error_reply(
                404,
                f"The model '{name}' does not exist or you do not have access to it.",
                "invalid_request_error",
                code="model_not_found",
            )
        return BodyReply(200, _model_object())


def _model_object() -> JSONObject:
    return {"id": MODEL_ID, "object": "model", "created": _CREATED, "owned_by": "reactsse"}


def _preflight(request: Request, allowed: tuple[str, ...]) -> BodyReply:
    # A CORS preflight (Fetch standard, "CORS protocol"): every response also carries
    # Access-Control-Allow-Origin: *, so browser pages on any origin can use the server.
    wanted = request.headers.get("access-control-request-headers", "")
    methods = ", ".join((*allowed, "OPTIONS"))
    cors = (
        ("Allow", methods),
        ("Access-Control-Allow-Methods", methods),
        ("Access-Control-Allow-Headers", wanted or "authorization, content-type"),
        ("Access-Control-Max-Age", "600"),
    )
    return BodyReply(204, None, cors)
