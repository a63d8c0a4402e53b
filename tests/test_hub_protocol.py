"""/chathub speaks the SignalR hub protocol (JSON over WebSockets), tested on the wire:
a real uvicorn server on loopback, raw WebSocket frames from the `websockets` client,
and negotiate over HTTP — every check against the published specification's rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from cascade.api.chathub.hub import Audience, Hub, HubPrincipal, HubSettings
from tests.hub_support import (
    RS,
    WAIT_S,
    Caller,
    LiveHub,
    Media,
    Raw,
    Tokens,
    handshake,
    live_hub,
    now_ms,
)


def tokens() -> Tokens:
    return Tokens(
        {
            "op-a": Caller("op-a", "acc-1", "org-1", "op-a"),
            "op-b": Caller("op-b", "acc-1", "org-2", "op-b"),
            "company": Caller("company", "acc-1"),
            "other": Caller("other", "acc-2"),
        }
    )


@pytest.fixture(scope="module")
def hub() -> Iterator[LiveHub]:
    with live_hub(tokens()) as live:
        yield live


async def connect(
    hub: LiveHub, token: str | None, *, query: str = "", header: bool = False
) -> ClientConnection:
    params = [query] if query else []
    headers = {}
    if token is not None and header:
        headers["Authorization"] = f"Bearer {token}"
    elif token is not None:
        params.append(f"access_token={token}")
    url = hub.ws_url + ("?" + "&".join(params) if params else "")
    return await websockets.connect(url, additional_headers=headers, open_timeout=WAIT_S)


@pytest.fixture
async def op_a(hub: LiveHub) -> AsyncIterator[Raw]:
    ws = await connect(hub, "op-a")
    yield await handshake(ws)
    await ws.close()


def negotiate(hub: LiveHub, token: str | None, version: str | None = "1", **kw: Any) -> Any:
    params = {"negotiateVersion": version} if version is not None else {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(
        hub.url + "/chathub/negotiate", params={**params, **kw}, headers=headers, timeout=WAIT_S
    )


# --- negotiate --------------------------------------------------------------------------


def test_negotiate_v1_offers_websockets_only_and_a_token_to_connect_with(hub: LiveHub) -> None:
    response = negotiate(hub, "op-a")
    assert response.status_code == 200
    body = response.json()
    assert body["negotiateVersion"] == 1
    assert body["availableTransports"] == [{"transport": "WebSockets", "transferFormats": ["Text"]}]
    assert body["connectionId"]
    assert body["connectionToken"]
    assert body["connectionId"] != body["connectionToken"]

    async def use() -> None:
        ws = await connect(hub, "op-a", query=f"id={body['connectionToken']}")
        await handshake(ws)
        await ws.close()

    asyncio.run(use())


def test_negotiate_v0_hands_out_the_connection_id_only(hub: LiveHub) -> None:
    body = negotiate(hub, "op-a", version=None).json()
    assert body["negotiateVersion"] == 0
    assert "connectionToken" not in body

    async def use() -> None:
        ws = await connect(hub, "op-a", query=f"id={body['connectionId']}")
        await handshake(ws)
        await ws.close()

    asyncio.run(use())


def test_negotiate_answers_a_later_version_with_its_own_and_refuses_garbage(hub: LiveHub) -> None:
    assert negotiate(hub, "op-a", version="7").json()["negotiateVersion"] == 1
    assert negotiate(hub, "op-a", version="x").status_code == 400


def test_negotiate_needs_a_valid_token_by_header_or_query(hub: LiveHub) -> None:
    assert negotiate(hub, None).status_code == 401
    assert negotiate(hub, "forged").status_code == 401
    assert negotiate(hub, None, access_token="op-b").status_code == 200


# --- connecting -------------------------------------------------------------------------


async def refused_with(hub: LiveHub, token: str | None, query: str = "") -> int:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await connect(hub, token, query=query)
    return refused.value.response.status_code


async def test_a_websocket_without_a_valid_token_is_refused(hub: LiveHub) -> None:
    assert await refused_with(hub, None) == 401
    assert await refused_with(hub, "forged") == 401


async def test_the_bearer_header_works_as_the_query_parameter_does(hub: LiveHub) -> None:
    ws = await connect(hub, "op-b", header=True)
    await handshake(ws)
    await ws.close()


async def test_a_connection_token_is_good_only_for_its_own_bearer_and_once(hub: LiveHub) -> None:
    token = negotiate(hub, "op-a").json()["connectionToken"]
    assert await refused_with(hub, "op-a", f"id={token}x") == 404  # tampered
    assert await refused_with(hub, "op-b", f"id={token}") == 404  # another caller's
    assert await refused_with(hub, "op-a", "id=nonsense") == 404
    first = await connect(hub, "op-a", query=f"id={token}")
    await handshake(first)
    assert await refused_with(hub, "op-a", f"id={token}") == 409  # it has its socket
    await first.close()


async def test_negotiate_may_be_skipped(hub: LiveHub) -> None:
    raw = await handshake(await connect(hub, "company"))
    reply = await raw.invoke("SendMessage", 5, "hi")
    assert reply["result"]["chatId"] == 5
    await raw.ws.close()


# --- the handshake ----------------------------------------------------------------------


async def test_an_unsupported_protocol_is_answered_with_an_error_and_closed(hub: LiveHub) -> None:
    ws = await connect(hub, "op-a")
    await ws.send(json.dumps({"protocol": "messagepack", "version": 1}) + RS)
    answer = await asyncio.wait_for(ws.recv(), WAIT_S)
    assert json.loads(str(answer).rstrip(RS)) == {
        "error": "Requested protocol 'messagepack' is not available."
    }
    await Raw(ws).closed()


async def test_messages_in_the_handshakes_frame_are_handled(hub: LiveHub) -> None:
    ws = await connect(hub, "op-a")
    invocation = {"type": 1, "invocationId": "9", "target": "SendMessage", "arguments": [1, "x"]}
    await ws.send(json.dumps({"protocol": "json", "version": 1}) + RS + json.dumps(invocation) + RS)
    raw = Raw(ws)
    assert await raw.next() == {}  # the handshake response, then the completion
    assert (await raw.next())["invocationId"] == "9"
    await ws.close()


# --- invocations ------------------------------------------------------------------------


async def test_an_invocation_completes_with_its_result(hub: LiveHub, op_a: Raw) -> None:
    reply = await op_a.invoke("SendMessage", 12, "Hello", invocation_id="a1")
    assert reply["type"] == 3
    assert reply["invocationId"] == "a1"
    assert reply["result"]["chatId"] == 12
    assert reply["result"]["message"] == "Hello"
    assert "error" not in reply


async def test_a_void_method_completes_without_a_result(hub: LiveHub, op_a: Raw) -> None:
    media = {"Name": "a.jpg", "Format": "jpg", "DataBase64": "aGk=", "Type": 1}
    reply = await op_a.invoke("SendMediaMessage", 3, media, invocation_id="m")
    assert reply == {"type": 3, "invocationId": "m"}
    assert ("SendMediaMessage", ("op-a", 3, Media("a.jpg", "jpg", "aGk=", 1))) in hub.calls


async def test_a_non_blocking_invocation_runs_and_is_never_answered(
    hub: LiveHub, op_a: Raw
) -> None:
    await op_a.send({"type": 1, "target": "SendMessage", "arguments": [77, "fire and forget"]})
    await op_a.send({"type": 1, "target": "NoSuchMethod", "arguments": []})  # no answer either
    reply = await op_a.invoke("SendMessage", 78, "after", invocation_id="z")
    assert reply["invocationId"] == "z"  # nothing came before it
    assert ("SendMessage", ("op-a", 77, "fire and forget")) in hub.calls


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ([1], "'SendMessage' takes 2 arguments (chat_id, text), got 1"),
        ([1, "a", "b"], "'SendMessage' takes 2 arguments (chat_id, text), got 3"),
        (["1", "a"], "Argument 'chat_id' of 'SendMessage' is invalid: Expected `int`, got `str`"),
        ([1, None], "Argument 'text' of 'SendMessage' is invalid: Expected `str`, got `null`"),
    ],
)
async def test_wrong_arguments_are_answered_with_an_error_and_the_connection_stays(
    hub: LiveHub, op_a: Raw, arguments: list[Any], error: str
) -> None:
    await op_a.send(
        {"type": 1, "invocationId": "w", "target": "SendMessage", "arguments": arguments}
    )
    assert await op_a.next() == {"type": 3, "invocationId": "w", "error": error}
    assert (await op_a.invoke("SendMessage", 2, "still here"))["result"]["chatId"] == 2


async def test_a_media_object_missing_a_field_is_an_argument_error(op_a: Raw) -> None:
    reply = await op_a.invoke("SendMediaMessage", 3, {"Name": "a.jpg"})
    assert reply["error"].startswith("Argument 'media' of 'SendMediaMessage' is invalid:")
    assert "Format" in reply["error"]


async def test_method_errors_reach_the_caller_and_faults_stay_in_the_log(op_a: Raw) -> None:
    assert (await op_a.invoke("Nope"))["error"] == "Unknown hub method 'Nope'"
    assert (await op_a.invoke("SendMessage", 404, "x"))["error"] == "No such chat"
    fault = await op_a.invoke("SendMessage", 500, "x")
    assert fault["error"] == "An unexpected error occurred invoking 'SendMessage' on the server."
    assert "secret" not in json.dumps(fault)


async def test_streams_are_refused_with_a_clear_error(hub: LiveHub, op_a: Raw) -> None:
    stream = {"type": 4, "invocationId": "s", "target": "SendMessage", "arguments": [1, "x"]}
    await op_a.send(stream)
    assert await op_a.next() == {
        "type": 3,
        "invocationId": "s",
        "error": "Streaming methods are not supported by this hub",
    }
    upload = {"type": 1, "invocationId": "u", "target": "SendMessage", "arguments": [1]}
    await op_a.send({**upload, "streamIds": ["st1"]})
    assert (await op_a.next())["error"] == "Client-to-server streaming is not supported by this hub"
    await op_a.send({"type": 2, "invocationId": "st1", "item": 1})  # of the refused stream
    await op_a.send({"type": 3, "invocationId": "st1"})
    await op_a.send({"type": 5, "invocationId": "s"})  # cancelling: nothing to cancel
    assert (await op_a.invoke("SendMessage", 1, "up"))["result"]["chatId"] == 1


async def test_a_stray_stream_item_is_a_protocol_error_that_closes(op_a: Raw) -> None:
    await op_a.send({"type": 2, "invocationId": "never", "item": 1})
    close = await op_a.next()
    assert close["type"] == 7
    assert "accepts no streams" in close["error"]
    assert "allowReconnect" not in close
    await op_a.closed()


async def test_a_message_larger_than_the_limit_closes_with_an_error() -> None:
    with live_hub(tokens(), HubSettings(max_message_bytes=1000)) as hub:
        raw = await handshake(await connect(hub, "op-a"))
        await raw.invoke("SendMessage", 1, "x" * 500)
        await raw.send({"type": 1, "target": "SendMessage", "arguments": [1, "x" * 2000]})
        close = await raw.next()
        assert close == {
            "type": 7,
            "error": "A message exceeded the maximum size of 1000 bytes",
        }
        await raw.closed()


async def test_a_client_close_message_ends_the_connection(hub: LiveHub) -> None:
    raw = await handshake(await connect(hub, "op-b"))
    await raw.send({"type": 7})
    assert await raw.closed() == 1000


# --- pings, timeouts, expiry --------------------------------------------------------------


async def test_the_server_pings_an_idle_connection_and_times_out_a_silent_one() -> None:
    settings = HubSettings(keepalive_s=0.2, client_timeout_s=1.5)
    with live_hub(tokens(), settings) as hub:
        raw = await handshake(await connect(hub, "op-a"))
        assert await raw.next(pings=True, within=2) == {"type": 6}
        # a client that pings stays past the timeout
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.5
        while loop.time() < until:
            await raw.send({"type": 6})
            assert await raw.next(pings=True, within=2) == {"type": 6}
        assert hub.connections() == 1
        # silent: the server closes it with the reason
        while (message := await raw.next(pings=True, within=3))["type"] == 6:
            pass
        assert message == {
            "type": 7,
            "error": "Server timeout elapsed without receiving a message from the client.",
        }
        await raw.closed()


async def test_a_connection_is_closed_when_its_token_expires() -> None:
    book = tokens()
    book.by_token["brief"] = Caller("brief", "acc-1", "org-1", "op-a", now_ms() + 1500)
    book.by_token["stale"] = Caller("stale", "acc-1", "org-1", "op-a", now_ms() - 1)
    with live_hub(book) as hub:
        assert await refused_with(hub, "stale") == 401
        assert negotiate(hub, "stale").status_code == 401
        raw = await handshake(await connect(hub, "brief"))
        assert (await raw.invoke("SendMessage", 1, "in time"))["result"]["chatId"] == 1
        close = await raw.next(within=5)
        assert close == {"type": 7, "error": "The access token has expired", "allowReconnect": True}
        await raw.closed()
        assert hub.connections() == 0


# --- events reach exactly their audience ------------------------------------------------------


async def test_an_event_reaches_exactly_the_connections_that_may_see_it(hub: LiveHub) -> None:
    clients = {
        name: await handshake(await connect(hub, name))
        for name in ("op-a", "op-b", "company", "other")
    }
    message = {"id": 1, "chatId": 7, "message": "Привіт <b>", "phone": "+380501234567"}
    await asyncio.to_thread(
        hub.publish, "ReceiveMessage", [message], Audience("acc-1", organization_id="org-1")
    )
    await asyncio.to_thread(
        hub.publish, "MessageStatusChanged", [41, 3], Audience("acc-1", operator_id="op-b")
    )
    last = {  # then a last event for each, after which nothing else may have come
        "op-a": Audience("acc-1", operator_id="op-a"),
        "op-b": Audience("acc-1", operator_id="op-b"),
        "company": Audience("acc-1"),
        "other": Audience("acc-2"),
    }
    for name, audience in last.items():
        await asyncio.to_thread(hub.publish, "ChatStatusChanged", [name, 4], audience)

    async def first_events(name: str) -> list[dict[str, Any]]:
        got = []
        while True:
            message = await clients[name].next()
            got.append(message)
            if message["target"] == "ChatStatusChanged" and message["arguments"][0] == name:
                return got

    got = {name: await first_events(name) for name in clients}
    received = {name: [m["target"] for m in got[name]] for name in got}
    assert received["op-a"][0] == "ReceiveMessage"
    assert got["op-a"][0] == {"type": 1, "target": "ReceiveMessage", "arguments": [message]}
    assert "ReceiveMessage" in received["company"]
    assert "MessageStatusChanged" in received["company"]
    assert "ReceiveMessage" not in received["op-b"]
    assert got["op-b"][0]["arguments"] == [41, 3]
    assert "MessageStatusChanged" not in received["op-a"]
    assert [m["arguments"] for m in got["other"]] == [["other", 4]]
    for client in clients.values():
        await client.ws.close()


async def test_an_event_may_except_the_connection_whose_invocation_made_it(hub: LiveHub) -> None:
    async def echo(caller: HubPrincipal, text: str) -> str:
        audience = Audience(caller.account_id, except_connection=Hub.invoker())
        await hub.hub.publish("ReceiveMessage", [{"message": text}], audience)
        return "told"

    hub.hub.register("Echo", echo)
    assert Hub.invoker() is None  # outside an invocation
    sender, other_tab = [await handshake(await connect(hub, "company")) for _ in range(2)]
    # published before the completion: were it for the sender, it would come first
    assert await sender.invoke("Echo", "hi") == {
        "type": 3,
        "invocationId": "1",
        "result": "told",
    }
    told = await other_tab.next()
    assert (told["target"], told["arguments"]) == ("ReceiveMessage", [{"message": "hi"}])
    # the sender's next event is the one published after: the echo never came
    await asyncio.to_thread(hub.publish, "ChatStatusChanged", [1, 4], Audience("acc-1"))
    assert (await sender.next())["target"] == "ChatStatusChanged"
    for client in (sender, other_tab):
        await client.ws.close()
