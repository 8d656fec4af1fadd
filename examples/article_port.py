"""The article's program, ported step by step onto reactsse's low layers.

The article reactsse began from, a Chinese blog post
("使用SSE技术调用OPENAI接口并实现流式输出,用PHP语言实现": "Calling the OpenAI API with SSE and
streaming the output, implemented in PHP"), builds a ReactPHP loop, sends a Guzzle request with
headers and a JSON body, registers the response stream with ``addReadStream``, reads lines until
a blank line ends an event, calls ``removeReadStream`` and echoes the data. This is the same
design with the layers made visible:

    loop (StreamSelectLoop)  ->  socket  ->  http.ClientConnection (h11)  ->  sse.EventStreamDecoder

Where the original goes wrong, and what the port does instead (each marked ``FIX n`` below):

1. ``$client->send($request)`` is synchronous: Guzzle sends the request and waits for the
   response head *before* the loop runs. Here connecting, sending and receiving all happen in
   loop callbacks: the loop is never blocked.
2. The listener is declared ``function ($stream, LoopInterface $loop)``; ReactPHP passes only the
   stream (PHP then fails with ArgumentCountError). A listener takes the stream; the loop is
   reached through the closure.
3. ``fgets`` on a non-blocking stream returns partial lines, and ``false`` when no data is there
   yet, which ends the ``while`` before the event is complete. Here each readiness does one
   ``recv`` of whatever arrived, and the decoder keeps a partial line until its end arrives.
4. ``strpos($buffer, "\\n\\n")`` looks inside one line from ``fgets``, which never holds two
   newlines, so as written it never fires; as intended (on ``$data``) it would echo the first
   event, remove the stream and drop everything after. Here every event is handled; the stream
   is removed when the response ends (or at ``data: [DONE]``).
5. The response body is HTTP/1.1 chunked: h11 removes the framing before the SSE decoder sees
   the bytes. The decoder applies the WHATWG rules the original skips (multi-line data, ``id``,
   ``retry``, CR/CRLF line endings, comments).
6. ``engines/davinci-codex/completions`` was retired long ago. The same kind of endpoint lives
   on as ``POST /v1/completions`` with a ``prompt`` and ``"stream": true`` (OpenAI's instruct
   models, vLLM, Ollama, llama.cpp): each event's data is a ``text_completion`` JSON chunk
   whose ``choices[0].text`` is the next piece of text, and ``data: [DONE]`` ends the stream.
   That is what the port speaks by default. ``--chat`` uses ``POST /v1/chat/completions``
   (``messages``; the text is in ``choices[0].delta.content``), what most servers serve today.

Run it: ``python examples/article_port.py`` (starts the built-in server in the same loop), or
``python examples/article_port.py --base-url http://localhost:11434/v1 --model llama3.2``
against a local OpenAI-compatible server (plain ``http://`` only: this teaching port has no TLS;
``reactsse.openai.OpenAIClient`` and ``reactsse chat`` do https).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import socket
import sys

from reactsse.http import ClientConnection, ResponseEnd, ResponseHead, parse_url
from reactsse.loop import StreamSelectLoop
from reactsse.mock import MODEL_ID, MockApp, MockOptions
from reactsse.server import ServerOptions, SSEServer
from reactsse.sse import EventStreamDecoder, MessageEvent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--base-url", help="an http:// OpenAI-compatible base URL (default: built-in)"
    )
    parser.add_argument("--model", default=MODEL_ID)
    parser.add_argument("--prompt", default="How does Alice's adventure begin?")
    parser.add_argument(
        "--chat", action="store_true", help="POST /v1/chat/completions instead of /v1/completions"
    )
    args = parser.parse_args(argv)

    # $loop = EventLoopFactory::create();
    loop = StreamSelectLoop()

    server = None
    base_url = args.base_url
    if base_url is None:
        # Not in the article: a server to talk to, on the same loop (port 0 = a free port).
        server = SSEServer(
            loop,
            app=MockApp(MockOptions(rate=100)),
            options=ServerOptions(keepalive_interval=None),
        )
        base_url = server.url + "/v1"

    # $request = $client->createRequest('POST', '.../completions');  (FIX 6: today's endpoint)
    url = parse_url(base_url.rstrip("/") + ("/chat/completions" if args.chat else "/completions"))
    if url.is_tls:
        print("article_port.py speaks plain http:// only; use `reactsse chat` for https")
        return 2
    # $request->setHeader(...); $request->setBody(Stream::factory(json_encode($query)));
    headers = [("Content-Type", "application/json")]
    api_key = os.environ.get("OPENAI_API_KEY") if args.base_url else None
    if api_key:
        headers.append(("Authorization", f"Bearer {api_key}"))
    query: dict[str, object] = {"model": args.model, "stream": True}
    if args.chat:
        query["messages"] = [{"role": "user", "content": args.prompt}]
    else:
        query["prompt"] = args.prompt  # the article's own field
    http = ClientConnection()  # h11 underneath, sans-IO: bytes in, events out
    pending = http.send_request("POST", url, headers, json.dumps(query).encode())
    decoder = EventStreamDecoder()

    # FIX 1: no synchronous send. A non-blocking socket; connect() returns at once.
    # (Name resolution blocks here; reactsse.connector does it in a thread. A literal IP
    # like the built-in server's 127.0.0.1 resolves without any lookup.)
    family, kind, proto, _, address = socket.getaddrinfo(
        url.host, url.port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    code = sock.connect_ex(address)
    if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
        sock.close()
        print(f"cannot connect to {url.host}:{url.port}: {os.strerror(code)}", file=sys.stderr)
        return 1
    outcome: dict[str, object] = {"status": None, "error": None}

    def finish(error: str | None = None) -> None:
        # $loop->removeReadStream($stream); and everything else the original leaks.
        loop.remove_read_stream(sock)
        loop.remove_write_stream(sock)
        sock.close()
        if server is not None:
            server.close()
        outcome["error"] = error
        print()

    def on_writable(stream: object) -> None:
        # Writable once connected (or failed: SO_ERROR says which). Then send what the kernel
        # takes; the rest waits for the next writability.
        nonlocal pending
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            finish(f"cannot connect to {url.host}:{url.port}: {os.strerror(error)}")
            return
        sent = sock.send(pending)
        pending = pending[sent:]
        if not pending:
            loop.remove_write_stream(sock)
            # $loop->addReadStream($stream, function ($stream) { ... });  (FIX 2: one argument)
            loop.add_read_stream(sock, on_readable)

    def on_readable(stream: object) -> None:
        # FIX 3: one recv of whatever is there; never a blocking or line-based read.
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            finish(f"connection failed: {exc}")
            return
        for item in http.receive_data(data):  # b"" (EOF) ends a close-delimited body
            if isinstance(item, ResponseHead):
                outcome["status"] = item.status
                if item.status != 200 or item.content_type != "text/event-stream":
                    finish(f"HTTP {item.status} {item.reason} ({item.content_type})")
                    return
            elif isinstance(item, bytes):
                # FIX 5: h11 removed the chunked framing; the decoder applies the SSE rules.
                for event in decoder.feed(item):
                    if on_event(event):  # FIX 4: every event, not only the first
                        finish()
                        return
            elif isinstance(item, ResponseEnd):
                finish()
                return
        if not data:
            finish("the server closed the connection early")

    def on_event(event: MessageEvent) -> bool:
        """Print one event's token; True at the end of the stream."""
        if event.data == "[DONE]":
            return True
        chunk = json.loads(event.data)
        if "error" in chunk:
            print(f"\nerror from the server: {chunk['error'].get('message')}", file=sys.stderr)
            return True
        for choice in chunk.get("choices", []):
            # FIX 6: the text is in choices[].text (chat: choices[].delta.content), not in the
            # raw `data:` line.
            if args.chat:
                sys.stdout.write(choice.get("delta", {}).get("content") or "")
            else:
                sys.stdout.write(choice.get("text") or "")
        sys.stdout.flush()
        return False

    loop.add_write_stream(sock, on_writable)
    # $loop->run();  returns when nothing is registered any more.
    loop.run()
    loop.close()
    if outcome["error"]:
        print(outcome["error"], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
