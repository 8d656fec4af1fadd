"""Tool calls: stream the fragments, get the complete call, run it, send the result back.

A model that calls a tool streams ``tool_calls`` fragments: the id and function name first,
then the JSON arguments in pieces. ``reactsse.openai`` hands you the fragments as they arrive
(``ChatDelta.tool_calls``) and the complete calls at the end (``ChatCompletion.tool_calls``).

Run it: ``python examples/tool_calls.py`` (the built-in server answers any request that has
``tools`` with a deterministic call), or against a real server::

    OPENAI_API_KEY=... python examples/tool_calls.py \
        --base-url https://api.openai.com/v1 --model gpt-4o-mini
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from reactsse.mock import MODEL_ID, MockApp, MockOptions
from reactsse.openai import OpenAIClient
from reactsse.server import BackgroundServer

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "sky": "clear", "celsius": 21}


def converse(client: OpenAIClient, model: str) -> int:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]
    with client.iter_chat(messages, model=model, tools=TOOLS) as stream:
        for delta in stream:
            for fragment in delta.tool_calls:
                print(
                    f"fragment #{fragment.index}: id={fragment.id} name={fragment.name} "
                    f"arguments+={fragment.arguments!r}"
                )
    completion = stream.result
    assert completion is not None
    print(f"finish_reason={completion.finish_reason}")
    if not completion.tool_calls:
        print("the model answered without a tool:", completion.content)
        return 0
    # Send the calls back with their results: the standard tool round trip.
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in completion.tool_calls
            ],
        }
    )
    for call in completion.tool_calls:
        result = get_weather(**call.parsed_arguments())
        print(f"ran {call.name}({call.arguments}) -> {result}")
        messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    print("answer: ", end="")
    with client.iter_chat(messages, model=model) as stream:
        for delta in stream:
            print(delta.content or "", end="", flush=True)
    print()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="tool-call round trip")
    parser.add_argument("--base-url", help="default: the built-in server")
    parser.add_argument("--model", default=MODEL_ID)
    args = parser.parse_args()
    if args.base_url is not None:
        return converse(OpenAIClient(base_url=args.base_url), args.model)
    # The built-in server on its own loop in a thread; the blocking iterator runs its own loop.
    with BackgroundServer(MockApp(MockOptions(reply_tokens=20))) as server:
        return converse(OpenAIClient(base_url=server.url + "/v1", api_key=""), args.model)


if __name__ == "__main__":
    sys.exit(main())
