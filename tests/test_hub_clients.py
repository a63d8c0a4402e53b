"""Real SignalR clients against /chathub: the provider's own `ChathubClient` on the official
`@microsoft/signalr` package (Node), and `pysignalr` from PyPI. Each negotiates, connects
with a token, receives a published event, invokes a method and gets its completion, sees
a wrong-arity invocation answered with an error while it stays connected, and is closed
when its token expires.

tests/node/chathub-client.js is the provider's example verbatim (shared/provider-examples);
the Node script changes only its URL, as SPEC E4 says a client must work.
"""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import threading
from typing import Any

import pytest
from pysignalr.client import SignalRClient
from pysignalr.exceptions import ServerError
from pysignalr.messages import CompletionMessage

from cascade.api.chathub.hub import Audience
from tests.hub_support import Caller, LiveHub, Media, Tokens, live_hub, now_ms
from tests.node_clients import NODE_DIR, node

WAIT_S = 20.0
EXPIRES_IN_MS = 6000  # long enough to go through every step first


def _lines(stream: Any, into: queue.Queue[dict[str, Any] | None], log: list[str]) -> None:
    for line in stream:
        if line.startswith("@@ "):
            into.put(json.loads(line[3:]))
        else:  # the example's and the library's own console output
            log.append(line)
    into.put(None)


class Script:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(
            target=_lines, args=(process.stdout, self.lines, self.log), daemon=True
        ).start()

    def next(self, step: str) -> dict[str, Any]:
        line = self.next_any(step)
        assert line["step"] == step, (line, self.log)
        return line

    def next_any(self, step: str = "line") -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=WAIT_S)
        except queue.Empty:
            raise AssertionError(f"no {step!r} from the client; it logged {self.log}") from None
        assert line is not None, f"the client ended early; it logged {self.log}"
        return line


def test_the_providers_chathub_client_on_the_official_signalr_package() -> None:
    node_bin = node()
    tokens = Tokens({"op-js": Caller("op-js", "acc-1", "org-1", "op-js", now_ms() + EXPIRES_IN_MS)})
    with live_hub(tokens) as hub:
        process = subprocess.Popen(
            [node_bin, "hub_client.js", "chathub-client.js", hub.url, "op-js"],
            cwd=NODE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            run_scenario(Script(process), hub)
            assert process.wait(timeout=WAIT_S) == 0
        finally:
            process.kill()
            process.wait()
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()


def run_scenario(script: Script, hub: LiveHub) -> None:
    polling = script.next("longPolling")["error"]
    assert "Unable to connect to the server with any of the available transports" in polling
    assert "'WebSockets' is disabled by the client" in polling
    bad = script.next("badToken")["error"]
    assert "401" in bad
    connected = script.next("connected")
    assert connected["connectionId"]
    message = {"id": 31, "chatId": 5, "message": "Доброго дня!", "phone": "+380501234567"}
    hub.publish("ReceiveMessage", [message], Audience("acc-1", organization_id="org-1"))
    assert script.next("received")["message"] == message
    assert script.next("invoked")["result"] == {
        "id": 2,
        "chatId": 6,
        "message": "with its result",
        "author": 0,
    }
    script.next("media")
    assert ("SendMessage", ("op-js", 5, "Hello from the official client")) in hub.calls
    assert ("SendMediaMessage", ("op-js", 7, Media("image.jpg", "jpg", "aGVsbG8=", 1))) in hub.calls
    wrong = script.next("wrongArity")
    assert "'SendMessage' takes 2 arguments (chat_id, text), got 1" in wrong["error"]
    assert wrong["state"] == "Connected"
    assert script.next("afterError")["result"]["chatId"] == 8
    script.next("waitingForExpiry")
    closed = script.next("closed")
    assert "The access token has expired" in closed["error"]
    assert closed["state"] == "Disconnected"


async def test_pysignalr_from_pypi() -> None:
    tokens = Tokens({"op-py": Caller("op-py", "acc-1", "org-1", "op-py", now_ms() + EXPIRES_IN_MS)})
    with live_hub(tokens) as hub:
        await pysignalr_scenario(hub)


async def pysignalr_scenario(hub: LiveHub) -> None:
    # pysignalr sends the factory's token on the WebSocket only; negotiate takes it from
    # the headers given (as against any hub that authorizes negotiate)
    client = SignalRClient(
        hub.url + "/chathub",
        access_token_factory=lambda: "op-py",
        headers={"Authorization": "Bearer op-py"},
    )
    opened = asyncio.Event()
    received: asyncio.Queue[list[Any]] = asyncio.Queue()
    completions: asyncio.Queue[CompletionMessage] = asyncio.Queue()

    async def on_open() -> None:
        opened.set()

    async def on_message(arguments: list[Any]) -> None:
        await received.put(arguments)

    async def on_completion(message: CompletionMessage) -> None:
        await completions.put(message)

    errors: list[str] = []

    async def on_error(message: CompletionMessage) -> None:  # pysignalr requires one
        errors.append(str(message.error))

    client.on_open(on_open)
    client.on_error(on_error)
    client.on("ReceiveMessage", on_message)
    running = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(opened.wait(), WAIT_S)
        assert any(t == "op-py" for t in hub.tokens.seen)  # negotiate and connect both asked
        event = {"id": 9, "chatId": 3, "message": "hello"}
        await asyncio.to_thread(
            hub.publish, "ReceiveMessage", [event], Audience("acc-1", operator_id="op-py")
        )
        assert await asyncio.wait_for(received.get(), WAIT_S) == [event]

        await client.send("SendMessage", [3, "from python"], on_invocation=on_completion)
        done = await asyncio.wait_for(completions.get(), WAIT_S)
        assert done.error is None
        assert done.result["message"] == "from python"

        await client.send("SendMessage", [3, "a", "b"], on_invocation=on_completion)
        wrong = await asyncio.wait_for(completions.get(), WAIT_S)
        assert wrong.error == "'SendMessage' takes 2 arguments (chat_id, text), got 3"
        assert errors == [wrong.error]
        await client.send("SendMessage", [4, "still up"], on_invocation=on_completion)
        assert (await asyncio.wait_for(completions.get(), WAIT_S)).result["chatId"] == 4

        with pytest.raises(ServerError, match="The access token has expired"):
            await asyncio.wait_for(running, WAIT_S)
    finally:
        running.cancel()
        with pytest.raises(BaseException):  # noqa: PT011, B017 - cancelled or already raised
            await running
