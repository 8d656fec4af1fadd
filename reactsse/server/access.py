"""``AccessRecord``: what the server tells its access log about one finished request.

``ServerOptions.access_log`` receives one record per request, when its response is over: sent
completely, cut by the app, closed by the server, or abandoned by the client. ``format_access``
makes it one line (credentials in the target redacted).
"""

from __future__ import annotations

from typing import NamedTuple

from reactsse.http.redact import redact_url

__all__ = ["AccessRecord", "format_access"]


class AccessRecord(NamedTuple):
    """One request: who asked, what, the status answered, events sent, seconds it took."""

    peer: str
    method: str
    target: str
    status: int
    events: int
    duration: float


def format_access(record: AccessRecord) -> str:
    """``127.0.0.1:50712 GET /events?count=3 200 3 events 0.004 s``."""
    events = "1 event" if record.events == 1 else f"{record.events} events"
    return (
        f"{record.peer} {record.method} {redact_url(record.target)} {record.status} "
        f"{events} {record.duration:.3f} s"
    )
