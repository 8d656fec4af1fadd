"""``OpenAIClient``: streaming requests to OpenAI-compatible servers, over reactsse's SSE client.

It builds the POST request (JSON body from ``reactsse.openai.request``, ``Authorization:
Bearer``), opens a one-shot stream with ``reactsse.eventsource`` (never reconnects: a POST that
generated tokens must not be replayed), and hands it to a ``StreamHandle`` (callbacks on a loop)
or a ``StreamIterator`` (blocking) with the matching accumulator.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from reactsse.errors import ReactSSEError
from reactsse.eventsource import EventSource, EventSourceOptions, Trace
from reactsse.eventsource.request import normalise_headers
from reactsse.http import parse_url
from reactsse.http.redact import Scrubber
from reactsse.loop import Loop, LoopInterface
from reactsse.openai.payload import translate_error
from reactsse.openai.request import (
    ChatOptions,
    CompletionOptions,
    ResponsesOptions,
    StreamRequest,
    chat_request,
    completion_request,
    responses_request,
)
from reactsse.openai.streams import (
    Accumulator,
    ChatStream,
    CompletionStream,
    ResponsesStream,
    StreamHandle,
    StreamIterator,
)
from reactsse.openai.types import (
    ChatCompletion,
    ChatDelta,
    Completion,
    CompletionDelta,
    Messages,
    ResponseResult,
    ResponseStreamEvent,
)

if TYPE_CHECKING:  # in annotations only, which stay text (PEP 563): no runtime dependency
    from typing_extensions import Unpack

__all__ = ["OpenAIClient"]

_D = TypeVar("_D")
_R = TypeVar("_R")

_DEFAULT_BASE_URL = "https://api.openai.com/v1"
# The client's own defaults, where they differ from EventSourceOptions': reasoning models may
# think for minutes before the first byte (the openai SDK waits 600 s too).
_CLIENT_DEFAULTS: dict[str, object] = {"read_timeout": 600.0}


class OpenAIClient:
    """A client for OpenAI-compatible streaming endpoints (OpenAI, Ollama, vLLM, llama.cpp ...).

    ``OpenAIClient(*, api_key=None, base_url=None, loop=None, options=None, **overrides)``:

    * ``api_key``: sent as ``Authorization: Bearer <key>``; ``None`` reads ``OPENAI_API_KEY``
      from the environment; no key at all (or ``""``) sends no Authorization header (local
      servers need none). The key never appears in a repr, an error message, a trace or
      ``options``.
    * ``base_url``: ``None`` reads ``OPENAI_BASE_URL``, else ``https://api.openai.com/v1``;
      endpoint paths (``/chat/completions``, ``/responses``) are appended to it.
    * ``loop``: the loop of the callback style (``None``: ``Loop.get()`` when a stream starts);
      the blocking iterators always run a private loop.
    * ``options``/``overrides``: the ``reactsse.eventsource.EventSourceOptions`` of every stream
      (see it for each one), as an object, as keywords, or both (the keywords win), exactly as
      for ``EventSource``: e.g. ``headers`` (extra request headers), ``connect_timeout``,
      ``read_timeout``, ``ssl_context``, ``trace``. The client's own default ``read_timeout``
      is 600 s; it applies where ``options`` keeps ``EventSourceOptions``' default. Streams
      never reconnect (``reconnect=False``): a POST that generated tokens must not be
      replayed, nor billed twice. Method and body are the client's (a JSON POST).

    Raises ``InvalidURL`` for a base URL that cannot be requested, and what
    ``EventSourceOptions`` raises for a bad option.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        loop: LoopInterface | None = None,
        options: EventSourceOptions | None = None,
        **overrides: object,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get("OPENAI_API_KEY")
        if base_url is None:
            base_url = os.environ.get("OPENAI_BASE_URL") or _DEFAULT_BASE_URL
        base_url = base_url.rstrip("/")
        parse_url(base_url)  # fail early: InvalidURL names what is wrong
        # Name-mangled so that no generic attribute dump (vars(), a debugger's repr) shows it
        # by accident under an obvious name; never formatted into any string but the header.
        self.__api_key = api_key or None
        self.base_url = base_url
        """The base URL, without a trailing slash."""
        self._loop = loop
        self.options = _client_options(options, overrides)
        """The ``EventSourceOptions`` every stream of this client is opened with."""

    @property
    def headers(self) -> dict[str, str]:
        """The extra request headers (a copy of ``options.headers``)."""
        return dict(normalise_headers(self.options.headers))

    @property
    def connect_timeout(self) -> float | None:
        """``options.connect_timeout``."""
        return self.options.connect_timeout

    @property
    def read_timeout(self) -> float | None:
        """``options.read_timeout``."""
        return self.options.read_timeout

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """``options.ssl_context``."""
        return self.options.ssl_context

    @property
    def trace(self) -> Trace | None:
        """``options.trace``."""
        return self.options.trace

    @property
    def loop(self) -> LoopInterface:
        """The loop of the callback style (``Loop.get()`` unless one was given)."""
        if self._loop is None:
            return Loop.get()
        return self._loop

    @property
    def has_api_key(self) -> bool:
        """Whether a key will be sent (the key itself is not readable)."""
        return self.__api_key is not None

    def __repr__(self) -> str:
        key = "set" if self.__api_key is not None else "none"
        return f"<OpenAIClient base_url={self.base_url!r} api_key={key}>"

    # -- opening streams and translating errors ---------------------------------------------

    def open_source(self, path: str, payload: dict[str, Any], loop: LoopInterface) -> EventSource:
        """The one-shot ``EventSource`` of a POST of ``payload`` to ``base_url + path`` on ``loop``.

        For other ways to consume a stream (``reactsse.aio``'s async client); feed its events
        to an accumulator and pass its errors through ``translate_error``.
        """
        return EventSource(
            self.base_url + path,
            loop=loop,
            options=self.options,
            method="POST",
            headers=self._request_headers(),
            json=payload,
        )

    def _start(
        self,
        request: StreamRequest[Accumulator[_D, _R]],
        on_item: Callable[[_D], object],
        on_done: Callable[[_R], object] | None,
        on_error: Callable[[Exception], object] | None,
    ) -> StreamHandle[_D, _R]:
        """A stream of ``request`` on ``self.loop``, callback style (``start_*``)."""
        path, body, accumulator = request
        return StreamHandle(
            self.open_source(path, body, self.loop),
            accumulator,
            self.translate_error,
            on_item=on_item,
            on_done=on_done,
            on_error=on_error,
        )

    def _iterate(self, request: StreamRequest[Accumulator[_D, _R]]) -> StreamIterator[_D, _R]:
        """A stream of ``request`` on a private loop, blocking (``iter_*``)."""
        path, body, accumulator = request
        return StreamIterator(
            lambda loop: self.open_source(path, body, loop), accumulator, self.translate_error
        )

    def _request_headers(self) -> list[tuple[str, str]]:
        headers = normalise_headers(self.options.headers)
        if self.__api_key is not None:
            headers.append(("Authorization", f"Bearer {self.__api_key}"))
        return headers

    def translate_error(self, error: ReactSSEError) -> ReactSSEError:
        """Put the server's own explanation into a status error's text; scrub the key."""
        # Some servers echo the key they rejected; it must not reach our messages.
        return translate_error(error, Scrubber([self.__api_key or ""], shortest=1).text)

    # -- Chat Completions -------------------------------------------------------------------

    def start_chat(
        self,
        messages: Messages,
        *,
        on_delta: Callable[[ChatDelta], object],
        on_done: Callable[[ChatCompletion], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        **options: Unpack[ChatOptions],
    ) -> StreamHandle[ChatDelta, ChatCompletion]:
        """Start a chat completion on the loop (callback style); returns a ``StreamHandle`` at once.

        Nothing happens until the loop runs (``start_*``: the request runs on a loop you run;
        ``iter_*``: a blocking iterator with its own private loop).

        ``POST {base_url}/chat/completions`` with ``"stream": true`` (and
        ``stream_options.include_usage`` unless ``include_usage=False``); ``tools`` and any
        ``extra`` body fields (``temperature``, ``max_tokens`` ...) are added to the body.
        Later, from the loop: ``on_delta(ChatDelta)`` per delta, then ``on_done(ChatCompletion)``
        once, or ``on_error(error)`` once: ``APIError`` (an error inside the stream),
        ``HTTPStatusError`` (non-2xx; its text carries the server's message),
        ``ContentTypeError``, ``RemoteProtocolError``, a ``TransportError`` or a ``Timeout``.
        Without ``on_error`` the error is raised out of the loop's ``run()``. A stream that
        ends without ``[DONE]`` warns ``IncompleteStreamWarning`` and still calls ``on_done``.
        Raises ``InvalidURL``/``TypeError`` (unserialisable body) at once.
        """
        return self._start(chat_request(messages, **options), on_delta, on_done, on_error)

    def iter_chat(self, messages: Messages, **options: Unpack[ChatOptions]) -> ChatStream:
        """Iterate over a chat completion, blocking: ``for delta in client.iter_chat(...)``.

        Same request and errors as ``start_chat``; returns a ``StreamIterator`` of
        ``ChatDelta`` whose ``result`` is the ``ChatCompletion`` once iteration ends.
        """
        return self._iterate(chat_request(messages, **options))

    # -- text completions -------------------------------------------------------------------

    def start_completion(
        self,
        prompt: str | Sequence[str] | Iterable[int] | Iterable[Iterable[int]],
        *,
        on_delta: Callable[[CompletionDelta], object],
        on_done: Callable[[Completion], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        **options: Unpack[CompletionOptions],
    ) -> StreamHandle[CompletionDelta, Completion]:
        """Start a text completion on the loop (callback style); returns a ``StreamHandle``.

        ``POST {base_url}/completions`` with ``prompt`` (a string; a list of strings, one choice
        each; or token ids: see ``completion_request``) and ``"stream": true`` (and
        ``stream_options.include_usage`` unless ``include_usage=False``), plus ``extra`` body
        fields (``max_tokens``, ``temperature`` ...): the legacy endpoint of instruct models,
        served by OpenAI, vLLM, Ollama and llama.cpp. Later: ``on_delta(CompletionDelta)`` per
        chunk and choice, then ``on_done(Completion)``, or ``on_error`` as in ``start_chat``.
        """
        return self._start(completion_request(prompt, **options), on_delta, on_done, on_error)

    def iter_completion(
        self,
        prompt: str | Sequence[str] | Iterable[int] | Iterable[Iterable[int]],
        **options: Unpack[CompletionOptions],
    ) -> CompletionStream:
        """Iterate over a text completion, blocking: ``for d in client.iter_completion(...)``.

        Same request and errors as ``start_completion``; ``result`` is the ``Completion`` once
        iteration ends.
        """
        return self._iterate(completion_request(prompt, **options))

    # -- Responses API ----------------------------------------------------------------------

    def start_responses(
        self,
        input: str | Sequence[Mapping[str, Any]],
        *,
        on_event: Callable[[ResponseStreamEvent], object],
        on_done: Callable[[ResponseResult], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        **options: Unpack[ResponsesOptions],
    ) -> StreamHandle[ResponseStreamEvent, ResponseResult]:
        """Start a Responses API answer on the loop (callback style); returns a ``StreamHandle``.

        ``POST {base_url}/responses`` with ``"stream": true``, ``input`` (a prompt or a list of
        input items), ``instructions``, ``tools`` and ``extra`` body fields. Later:
        ``on_event`` per typed event (``ResponseTextDelta``,
        ``ResponseFunctionCallArgumentsDelta``, ``ResponseFunctionCall``,
        ``ResponseCompleted``), then ``on_done(ResponseResult)``, or ``on_error`` as in
        ``start_chat`` (``response.failed`` and ``error`` events raise ``APIError``).
        """
        return self._start(responses_request(input, **options), on_event, on_done, on_error)

    def iter_responses(
        self, input: str | Sequence[Mapping[str, Any]], **options: Unpack[ResponsesOptions]
    ) -> ResponsesStream:
        """Iterate over a Responses API answer, blocking: ``for event in client.iter_responses()``.

        Same request and errors as ``start_responses``; ``result`` is the ``ResponseResult``
        once iteration ends.
        """
        return self._iterate(responses_request(input, **options))


def _client_options(
    options: EventSourceOptions | None, overrides: Mapping[str, object]
) -> EventSourceOptions:
    """``options`` with the client's defaults where it keeps EventSourceOptions' own, then
    ``overrides``; one-shot (``reconnect=False``) whatever was asked."""
    base = EventSourceOptions() if options is None else options
    stock = EventSourceOptions()
    defaults = {
        name: value
        for name, value in _CLIENT_DEFAULTS.items()
        if getattr(base, name) == getattr(stock, name)
    }
    if defaults:
        base = dataclasses.replace(base, **defaults)  # type: ignore[arg-type]
    # One-shot: a POST that generated tokens is never replayed (and never re-billed).
    return EventSourceOptions.merge(base, {**overrides, "reconnect": False})
