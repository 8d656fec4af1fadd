"""The read sizes and the free list of reused read buffers that every transport shares.

A read takes a ``READ_BUFFER_SIZE`` ``bytearray`` from the free list, ``recv_into`` fills it,
``on_data`` gets a ``memoryview`` of the bytes read, and the buffer goes back to the list when
``on_data`` returns. No read allocates, and memory is one buffer per read in progress (one per
thread; two while a TLS read decrypts) however many connections are open. The view is released
after the call: a consumer copies what it keeps (``bytes(data)``), and that copy is the only one.
"""

from __future__ import annotations

__all__ = [
    "FIRST_READ_SIZE",
    "READ_BUFFER_SIZE",
    "READ_SIZE",
    "free_buffers",
    "give_back",
    "take_buffer",
]

#: The most bytes asked of the kernel per readiness (ReactPHP's ``$bufferSize``, 65536): the
#: size a streaming connection's reads grow to.
READ_SIZE = 65536
#: The bytes asked by a connection's first read, and the least the adaptive size shrinks to.
FIRST_READ_SIZE = 2048
#: The size of the reused read buffers: ``READ_SIZE`` and room for the TLS record (at most
#: 16 KiB of plaintext, RFC 8446 section 5.1) that a read's ciphertext may complete, so that the
#: plaintext of one socket read always fits one buffer, hence one ``on_data`` call.
READ_BUFFER_SIZE = READ_SIZE + 32 * 1024

#: The free list: each buffer with a view of itself made once. ``list.pop()`` and
#: ``list.append()`` are atomic, so loops in several threads may share it. A buffer whose view
#: was never handed out goes back with ``free_buffers.append(buffer)``.
free_buffers: list[tuple[bytearray, memoryview]] = []


def take_buffer() -> tuple[bytearray, memoryview]:
    """A buffer from the free list, or a new one if every buffer is in use."""
    try:
        return free_buffers.pop()
    except IndexError:
        buffer = bytearray(READ_BUFFER_SIZE)
        return buffer, memoryview(buffer)


def give_back(buffer: tuple[bytearray, memoryview], data: memoryview) -> None:
    """Return ``buffer`` to the free list once ``on_data`` returned with ``data``, its view.

    ``data`` is released first, so that a consumer that kept it (instead of copying what it
    needed) gets a ``ValueError`` rather than bytes of a later read. A consumer that still holds
    a buffer export of it (``BufferError``) keeps the buffer: it is not reused.
    """
    try:
        data.release()
    except BufferError:
        return
    free_buffers.append(buffer)
