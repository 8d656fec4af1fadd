"""The built-in apps ``reactsse.server.SSEServer`` serves by default (``docs/server.md``).

:class:`MockApp` answers ``POST /v1/chat/completions``, ``POST /v1/responses`` and
``GET /v1/models`` like OpenAI's API (deterministically, from a bundled public-domain text),
and ``GET /events`` with numbered events that resume from ``Last-Event-ID``; faults can be
injected per server (:class:`MockOptions`) or per request (``X-Reactsse-Fault``). It is an
ordinary app of the server's public protocol (``reactsse.server.app``).
"""

from __future__ import annotations

from reactsse.mock.faults import Fault, parse_fault
from reactsse.mock.options import MockOptions
from reactsse.mock.router import MODEL_ID, MockApp

__all__ = ["MODEL_ID", "Fault", "MockApp", "MockOptions", "parse_fault"]
