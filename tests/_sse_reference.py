"""The reference for the SSE tests: WHATWG HTML §9.2.5 and §9.2.6 transcribed literally.

One character and one line at a time, straight from the spec text, with no regard for speed:
the decoder and each of its fast paths must give the same events, ``last_event_id``, ``retry``
and comment count.
"""

from __future__ import annotations

Ev = tuple[str, str, str]  # (type, data, last_event_id)


class Reference:
    def __init__(self, stream: bytes, last_event_id: str = "") -> None:
        text = stream.decode("utf-8", "replace")  # "UTF-8 decode": replacement, BOM handled below
        if text.startswith("\ufeff"):
            text = text[1:]
        self.events: list[Ev] = []
        self.comments = 0
        self.retry: int | None = None
        self.last_event_id = last_event_id
        self.id_buffer = last_event_id
        self.data = ""
        self.event_type = ""
        line = ""
        i = 0
        while i < len(text):  # end-of-line = CRLF / LF / CR; nothing else; last line unterminated
            char = text[i]
            if char == "\r":
                if i + 1 < len(text) and text[i + 1] == "\n":
                    i += 1
                self.line(line)
                line = ""
            elif char == "\n":
                self.line(line)
                line = ""
            else:
                line += char
            i += 1

    def line(self, line: str) -> None:
        if line == "":
            self.dispatch()
        elif line.startswith(":"):
            self.comments += 1
        elif ":" in line:
            name = line[: line.index(":")]
            value = line[line.index(":") + 1 :]
            if value.startswith(" "):
                value = value[1:]
            self.field(name, value)
        else:
            self.field(line, "")

    def field(self, name: str, value: str) -> None:
        if name == "event":
            self.event_type = value
        elif name == "data":
            self.data += value + "\n"
        elif name == "id":
            if "\0" not in value:
                self.id_buffer = value
        elif name == "retry" and value and all(c in "0123456789" for c in value):
            significant = value.lstrip("0") or "0"  # clamp without int() on 5000 digits
            self.retry = 2**31 - 1 if len(significant) > 10 else min(int(significant), 2**31 - 1)

    def dispatch(self) -> None:
        self.last_event_id = self.id_buffer
        if self.data == "":
            self.event_type = ""
            return
        if self.data.endswith("\n"):
            self.data = self.data[:-1]
        self.events.append((self.event_type or "message", self.data, self.last_event_id))
        self.data = ""
        self.event_type = ""


def reference_decode(stream: bytes) -> list[Ev]:
    return Reference(stream).events
