"""Content-Encoding (RFC 9110 §8.4): the incremental gzip/deflate decoder of a response body.

``ClientConnection`` applies it to every body it returns, so that its callers only ever see
decoded bytes; ``ContentDecoder`` is also usable on its own. Bounded: one call produces at most
``max_output_per_call`` bytes (a decompression bomb raises instead of filling memory).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from reactsse.errors import LimitExceeded, ReactSSEError, RemoteProtocolError
from reactsse.http.events import ResponseHead

__all__ = ["DEFAULT_MAX_DECODED_PER_CALL", "ContentDecoder", "content_decoder_for"]

DEFAULT_MAX_DECODED_PER_CALL = 16 * 1024 * 1024
"""Default cap, in bytes, of what one ``ContentDecoder.decode``/``flush`` call may produce."""

# zlib loses the output of a decompress call that meets corrupt data. To still return what the
# valid part before the fault decodes to, a stage keeps a copy of its decompressor taken at most
# every this many input bytes, and the input since; only a fault replays them. A copy is not
# cheap (it copies the 32 KiB window; docs/http.md), so it is not taken on every call.
_CHECKPOINT_INPUT = 64 * 1024


class _ZlibStage:
    """One gzip or deflate layer (RFC 9110 §8.4.1)."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._gzip = coding in ("gzip", "x-gzip")
        # gzip: wbits 16+15 (gzip header); deflate: zlib format (RFC 1950) as RFC 9110 §8.4.1.2
        # says, falling back to raw deflate (RFC 1951), which some servers send (like httpx).
        self._object = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)
        self._replay: bytes | None = b"" if not self._gzip else None
        self._seen_input = False
        self._checkpoint = self._object.copy()
        self._since: list[bytes] = []  # the input since the checkpoint, one item per call
        self._since_size = 0

    def decode(self, data: bytes, limit: int) -> bytes:
        if not data:
            return b""
        self._seen_input = True
        if self._since_size >= _CHECKPOINT_INPUT:
            self._checkpoint = self._object.copy()
            self._since = []
            self._since_size = 0
        self._since.append(data)
        self._since_size += len(data)
        if self._replay is None:
            return self._inflate(data, limit)
        self._replay += data
        try:
            out = self._inflate(data, limit)
        except LimitExceeded:
            raise
        except RemoteProtocolError:
            # Not a zlib header: retry everything seen so far as raw deflate, once.
            replay, self._replay = self._replay, None
            self._object = zlib.decompressobj(-zlib.MAX_WBITS)
            self._checkpoint = self._object.copy()
            self._since = [replay]
            self._since_size = len(replay)
            return self._inflate(replay, limit)
        if len(self._replay) >= 2:
            self._replay = None  # the zlib header was accepted
        return out

    def _inflate(self, data: bytes, limit: int) -> bytes:
        pieces: list[bytes] = []
        budget = limit
        while True:
            try:
                out = self._object.decompress(data, budget + 1)
            except zlib.error as exc:
                raise RemoteProtocolError(
                    f"cannot decode the {self._coding} response body: {exc}"
                ) from exc
            pieces.append(out)
            budget -= len(out)
            if budget < 0 or self._object.unconsumed_tail:
                raise LimitExceeded(
                    f"{self._coding} body inflates to more than {limit} bytes from one read "
                    "(decompression bomb?)",
                    limit=limit,
                )
            unused = self._object.unused_data
            if not (self._gzip and self._object.eof and unused):
                break
            # RFC 1952 §2.2: a gzip file may hold several members, one after another.
            self._object = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = unused
        return b"".join(pieces)

    def salvage(self, limit: int) -> bytes:
        """After ``decode`` raised RemoteProtocolError: what the longest prefix of that call's
        input decodes to (the input before the corrupt bytes), from the checkpoint."""
        if not self._since:
            return b""
        *before, data = self._since
        probe = _ZlibStage(self._coding)
        probe._replay = None
        probe._object = self._checkpoint.copy()
        try:
            for piece in before:  # decoded without error before: its output was delivered
                probe._inflate(piece, limit)
        except ReactSSEError:  # pragma: no cover - the same input decoded before
            return b""
        # A prefix that fails makes every longer one fail (inflate reads in order): bisect.
        low, high, out = 0, len(data), b""
        while high - low > 1:
            middle = (low + high) // 2
            trial = _ZlibStage(self._coding)
            trial._replay = None
            trial._object = probe._object.copy()
            try:
                result = trial._inflate(data[:middle], limit)
            except ReactSSEError:
                high = middle
            else:
                low, out = middle, result
        return out

    def flush(self) -> bytes:
        out = self._object.flush()
        if self._seen_input and not self._object.eof:
            raise RemoteProtocolError(f"the {self._coding} response body is truncated")
        return out


class ContentDecoder:
    """Incremental decoder of a response body's Content-Encoding (gzip, x-gzip, deflate).

    ``codings``: the codings in the order the server applied them (the Content-Encoding list,
    RFC 9110 §8.4); ``identity`` entries are skipped. ``max_output_per_call`` bounds what one
    ``decode`` or ``flush`` call may produce: a body that inflates past it from one read raises
    LimitExceeded (a decompression bomb cannot blow memory; no unbounded data is held).
    Raises RemoteProtocolError naming an unsupported coding.
    """

    def __init__(
        self,
        codings: Sequence[str] | str,
        *,
        max_output_per_call: int = DEFAULT_MAX_DECODED_PER_CALL,
    ) -> None:
        if isinstance(codings, str):
            codings = codings.split(",")
        names = [c.strip().lower() for c in codings if c.strip().lower() not in ("", "identity")]
        for name in names:
            if name not in ("gzip", "x-gzip", "deflate"):
                raise RemoteProtocolError(
                    f"unsupported Content-Encoding {name!r} (supported: gzip, deflate)"
                )
        # Decoding undoes the codings in reverse order of application.
        self._stages = [_ZlibStage(name) for name in reversed(names)]
        self._limit = max_output_per_call

    @property
    def identity(self) -> bool:
        """True when there is nothing to decode (no coding, or only ``identity``)."""
        return not self._stages

    def decode(self, data: bytes) -> bytes:
        """Decode the next piece of the body; returns the decoded bytes (maybe empty).

        Raises RemoteProtocolError (corrupt data), LimitExceeded (over ``max_output_per_call``).
        """
        for stage in self._stages:
            data = stage.decode(data, self._limit)
        return data

    def decode_before_error(
        self, data: bytes, *, final: bool = False
    ) -> tuple[bytes, ReactSSEError | None]:
        """``decode`` (then ``flush`` if ``final``), but a fault does not lose what the data
        before it decodes to.

        Returns (decoded bytes, None), or, when ``data`` holds corrupt bytes, (what the bytes
        before them decode to, the RemoteProtocolError ``decode`` would raise); over the limit,
        (b"", the LimitExceeded); truncated at ``final``, (the decoded bytes, the
        RemoteProtocolError of ``flush``). The decoder must not be used after a fault.
        """
        error: ReactSSEError | None = None
        for stage in self._stages:
            try:
                data = stage.decode(data, self._limit)
            except LimitExceeded as exc:
                return b"", error or exc
            except RemoteProtocolError as exc:
                error = error or exc
                data = stage.salvage(self._limit)
        if final and error is None:
            try:
                data += self.flush()
            except ReactSSEError as exc:
                error = exc
        return data, error

    def flush(self) -> bytes:
        """Finish at the end of the body; returns the last decoded bytes.

        Raises RemoteProtocolError if the compressed stream is truncated.
        """
        out = b""
        for stage in self._stages:
            out = stage.decode(out, self._limit) + stage.flush()
        return out


def content_decoder_for(head: ResponseHead) -> ContentDecoder | None:
    """Return a ContentDecoder for the response's Content-Encoding, or None for none/identity.

    Raises RemoteProtocolError naming an unsupported coding (e.g. ``br``).
    """
    value = head.get("content-encoding")
    if value is None:
        return None
    decoder = ContentDecoder(value)
    return None if decoder.identity else decoder
