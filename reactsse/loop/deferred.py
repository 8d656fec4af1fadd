"""``Deferred``: a one-shot result, in the role of ReactPHP's promises.

ReactPHP's ``Connector::connect()`` returns a promise (reactphp/promise, ``Deferred`` and
``PromiseInterface``): it settles exactly once, fulfilled with a value or rejected with an
error, and ``cancel()`` aborts the work behind it, after which no handler is called. Every
asynchronous step of reactsse that produces one result (resolving a name, connecting, a TLS
handshake, an OpenAI stream's final result) has the same shape, so it is written once, here.

Scope, deliberately small: one object is both the producer's ``Deferred`` and the consumer's
promise, and ``then`` does not chain (it returns nothing). Handlers run synchronously when the
result settles, as react/promise v3 runs them; a handler added after settlement runs at once.
Everything happens on the loop thread: a result computed in another thread reaches the loop
through ``ThreadWaker`` first.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Deferred"]

T = TypeVar("T")
_Handlers = tuple[Callable[[T], object], Callable[[Exception], object] | None]


class _State(enum.Enum):
    PENDING = "pending"
    FULFILLED = "fulfilled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Deferred(Generic[T]):
    """A result that settles once: ``resolve``/``reject`` make it, ``then``/``cancel`` use it.

    ``canceller`` is called once by the first ``cancel()`` of a pending result (it aborts the
    work: closes a socket, cancels a timer). Settling after ``cancel()``, or a second time,
    does nothing, so a late callback of the aborted work is harmless.
    """

    __slots__ = ("_canceller", "_handlers", "_state", "_value")

    def __init__(self, canceller: Callable[[], object] | None = None) -> None:
        self._canceller = canceller
        self._state = _State.PENDING
        self._value: T | Exception | None = None
        self._handlers: list[_Handlers[T]] = []

    @property
    def settled(self) -> bool:
        """True once fulfilled, rejected or cancelled."""
        return self._state is not _State.PENDING

    @property
    def cancelled(self) -> bool:
        """True after ``cancel()`` on a pending result."""
        return self._state is _State.CANCELLED

    def resolve(self, value: T) -> None:
        """Fulfil with ``value`` and call the fulfilment handlers; no-op once settled."""
        if self._state is _State.PENDING:
            self._settle(_State.FULFILLED, value)

    def reject(self, error: Exception) -> None:
        """Reject with ``error`` and call the rejection handlers; no-op once settled."""
        if self._state is _State.PENDING:
            self._settle(_State.REJECTED, error)

    def then(
        self,
        on_fulfilled: Callable[[T], object],
        on_rejected: Callable[[Exception], object] | None = None,
    ) -> None:
        """Call ``on_fulfilled(value)`` or ``on_rejected(error)`` once it settles (now if it has).

        A rejection with no ``on_rejected`` is ignored by this handler pair. Nothing is called
        for a cancelled result.
        """
        state = self._state
        if state is _State.PENDING:
            self._handlers.append((on_fulfilled, on_rejected))
        elif state is _State.FULFILLED:
            on_fulfilled(self._value)  # type: ignore[arg-type]
        elif state is _State.REJECTED and on_rejected is not None:
            on_rejected(self._value)  # type: ignore[arg-type]

    def cancel(self) -> None:
        """Abort a pending result: the canceller runs once, and no handler ever will."""
        if self._state is not _State.PENDING:
            return
        self._state = _State.CANCELLED
        self._handlers.clear()
        canceller, self._canceller = self._canceller, None
        if canceller is not None:
            canceller()

    def _settle(self, state: _State, value: T | Exception) -> None:
        self._state = state
        self._value = value
        self._canceller = None
        handlers, self._handlers = self._handlers, []
        for on_fulfilled, on_rejected in handlers:
            if state is _State.FULFILLED:
                on_fulfilled(value)  # type: ignore[arg-type]
            elif on_rejected is not None:
                on_rejected(value)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<Deferred {self._state.value}>"
