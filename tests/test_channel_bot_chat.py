"""The bot channels' chat side against mocked providers, row by row: an operator's text,
photo and file sent through Telegram and Viber (the exact requests, multipart fields
included), and a person's media fetched back under the size limit.

Every request goes to an `httpx.MockTransport` (tests/mock_transport.py): nothing leaves
the machine, and a row fails on a request it did not expect or one it expected and missed.
"""

from __future__ import annotations

import email.policy
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

import httpx
import pytest

from cascade.channels.bot_chat import (
    MAX_MEDIA_BYTES,
    BotChat,
    ChatSent,
    FetchedMedia,
    MediaFetchError,
    MediaTooLarge,
    OutgoingMedia,
)
from cascade.channels.telegram import TelegramChannel
from cascade.channels.viber_bot import ViberBotChannel
from cascade.domain.events import ChatMessageStatus, MediaRef
from cascade.domain.sending import Sender
from tests import channel_cases as cases
from tests.mock_transport import Exchange, channel_on, scripted

SUCCESS, NEW, REJECTED = (
    ChatMessageStatus.SUCCESS,
    ChatMessageStatus.NEW,
    ChatMessageStatus.REJECTED,
)

TG_TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TG = Sender(id="bot-1", token=TG_TOKEN, webhook_secret="wh-secret")
TG_BASE = "https://api.telegram.test"
CHAT = "1000380501234561"

VB_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
VB = Sender(id="bot-2", token=VB_TOKEN)
VB_BASE = "https://viber.test"
USER = "01234567890A="
MESSAGE_TOKEN = 5741311803571721087

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # not an image a viewer opens: bytes
PDF = b"%PDF-1.4\n" + b"\x00\xff" * 300 + b"\n%%EOF\n"
PHOTO = OutgoingMedia(PNG, "photo.png", "image/png", url="https://cascade.test/m/1/photo.png")
INVOICE = OutgoingMedia(PDF, "invoice.pdf", "application/pdf", url="https://cascade.test/m/2/i.pdf")


# --- what a request was, in a form a row can spell out ------------------------------------------


def multipart(request: httpx.Request) -> dict[str, object]:
    """A multipart/form-data body's parts by name: a field's text, or a file's (filename,
    type, bytes). Parsed with the standard library's MIME parser, not httpx's encoder."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    parsed = message_from_bytes(head + request.content, policy=email.policy.HTTP)
    parts: dict[str, object] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        filename = part.get_filename()
        if filename is None:
            parts[name] = payload.decode()
        else:
            parts[name] = (filename, part.get_content_type(), payload)
    return parts


def seen(request: httpx.Request) -> tuple[str, str, object]:
    """(method, path, body): JSON decoded, multipart by part, anything else as bytes."""
    kind = request.headers.get("content-type", "").split(";")[0]
    body: object = request.content
    if kind == "application/json":
        body = json.loads(request.content)
    elif kind == "multipart/form-data":
        body = multipart(request)
    return request.method, request.url.path, body


@dataclass(frozen=True)
class Row:
    """One chat call: the provider's answers in order, the requests it must have got (in
    `seen` form), and what the call returns — or the error it raises."""

    id: str
    call: Callable[[Any], Awaitable[object]]
    answers: Sequence[tuple[str, httpx.Response | Exception]]  # (path, answer)
    requests: Sequence[tuple[str, str, object]]
    result: object = None
    raises: type[Exception] | None = None
    reason: str | None = None  # the error's reason, when it raises
    headers: dict[str, str | None] = field(default_factory=dict)  # on every request


async def run(row: Row, make: Callable[[httpx.AsyncClient], Any], secrets: Sequence[str]) -> None:
    with cases.captured_logs() as records, scripted("") as api:
        api.expect(*(Exchange(answer, path) for path, answer in row.answers))
        async with channel_on(api, make) as channel:
            if row.raises is None:
                result = await row.call(channel)
                assert result == row.result, f"{row.id}: {result!r}"
                shown = repr(result)
            else:
                with pytest.raises(row.raises) as caught:
                    await row.call(channel)
                reason = getattr(caught.value, "reason", None)
                assert row.reason is None or reason == row.reason, f"{row.id}: {reason!r}"
                shown = str(caught.value)
        assert [seen(r) for r in api.requests] == list(row.requests), row.id
        for request in api.requests:
            for header, value in row.headers.items():
                assert request.headers.get(header) == value, f"{row.id}: {header}"
    cases.assert_kept(secrets, records, shown, row.id)


def ok(result: object) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def tg_error(code: int, description: str, **parameters: Any) -> httpx.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(code, json=body)


def tg_message(message_id: int, **content: Any) -> httpx.Response:
    return ok({"message_id": message_id, "chat": {"id": int(CHAT), "type": "private"}, **content})


def tg(method: str) -> str:
    return f"/bot{TG_TOKEN}/{method}"


# --- Telegram: sending ---------------------------------------------------------------------------

TELEGRAM_SENDS = [
    Row(
        "text accepted is delivered",
        lambda c: c.send_chat_text(TG, CHAT, "Hello, how can I help?"),
        [(tg("sendMessage"), tg_message(42, text="Hello, how can I help?"))],
        [("POST", tg("sendMessage"), {"chat_id": CHAT, "text": "Hello, how can I help?"})],
        ChatSent(SUCCESS, "42"),
    ),
    Row(
        "text to a person who blocked the bot",
        lambda c: c.send_chat_text(TG, CHAT, "Hello?"),
        [(tg("sendMessage"), tg_error(403, "Forbidden: bot was blocked by the user"))],
        [("POST", tg("sendMessage"), {"chat_id": CHAT, "text": "Hello?"})],
        ChatSent(REJECTED, reason="BLOCKED"),
    ),
    Row(
        "text under flood control may be sent again",
        lambda c: c.send_chat_text(TG, CHAT, "Hello?"),
        [(tg("sendMessage"), tg_error(429, "Too Many Requests: retry after 3", retry_after=3))],
        [("POST", tg("sendMessage"), {"chat_id": CHAT, "text": "Hello?"})],
        ChatSent(REJECTED, reason="THROTTLED", retryable=True),
    ),
    Row(
        "text that cannot have left may be sent again",
        lambda c: c.send_chat_text(TG, CHAT, "Hello?"),
        [(tg("sendMessage"), httpx.ConnectError("refused"))],
        [("POST", tg("sendMessage"), {"chat_id": CHAT, "text": "Hello?"})],
        ChatSent(REJECTED, reason="NETWORK:ConnectError", retryable=True),
    ),
    Row(
        "text that may have arrived is not sent again",
        lambda c: c.send_chat_text(TG, CHAT, "Hello?"),
        [(tg("sendMessage"), httpx.ReadTimeout("slow"))],
        [("POST", tg("sendMessage"), {"chat_id": CHAT, "text": "Hello?"})],
        ChatSent(REJECTED, reason="NO_ANSWER:ReadTimeout"),
    ),
    Row(
        "text too long: nothing sent",
        lambda c: c.send_chat_text(TG, CHAT, "x" * 4097),
        [],
        [],
        ChatSent(REJECTED, reason="TEXT_TOO_LONG"),
    ),
    Row(
        "no token: nothing sent",
        lambda c: c.send_chat_text(Sender("bot-1", ""), CHAT, "Hello"),
        [],
        [],
        ChatSent(REJECTED, reason="INVALID_TOKEN"),
    ),
    Row(
        "photo uploaded with its caption (sendPhoto)",
        lambda c: c.send_chat_media(TG, CHAT, PHOTO, "Your receipt"),
        [(tg("sendPhoto"), tg_message(43, photo=[{"file_id": "AgAC", "width": 1, "height": 1}]))],
        [
            (
                "POST",
                tg("sendPhoto"),
                {
                    "chat_id": CHAT,
                    "caption": "Your receipt",
                    "photo": ("photo.png", "image/png", PNG),
                },
            )
        ],
        ChatSent(SUCCESS, "43"),
    ),
    Row(
        "photo without a caption has no caption field",
        lambda c: c.send_chat_photo(TG, CHAT, PHOTO),
        [(tg("sendPhoto"), tg_message(44))],
        [("POST", tg("sendPhoto"), {"chat_id": CHAT, "photo": ("photo.png", "image/png", PNG)})],
        ChatSent(SUCCESS, "44"),
    ),
    Row(
        "a file goes as a document (sendDocument)",
        lambda c: c.send_chat_media(TG, CHAT, INVOICE, "Invoice"),
        [(tg("sendDocument"), tg_message(45))],
        [
            (
                "POST",
                tg("sendDocument"),
                {
                    "chat_id": CHAT,
                    "caption": "Invoice",
                    "document": ("invoice.pdf", "application/pdf", PDF),
                },
            )
        ],
        ChatSent(SUCCESS, "45"),
    ),
    Row(
        "a GIF goes as a document",
        lambda c: c.send_chat_media(TG, CHAT, OutgoingMedia(b"GIF89a..", "a.gif", "image/gif")),
        [(tg("sendDocument"), tg_message(46))],
        [
            (
                "POST",
                tg("sendDocument"),
                {"chat_id": CHAT, "document": ("a.gif", "image/gif", b"GIF89a..")},
            )
        ],
        ChatSent(SUCCESS, "46"),
    ),
    Row(
        "an image over 10 MB goes as a document",
        lambda c: c.send_chat_media(
            TG, CHAT, OutgoingMedia(b"\xff" * (10 * 1024 * 1024 + 1), "big.jpg", "image/jpeg")
        ),
        [(tg("sendDocument"), tg_message(47))],
        [
            (
                "POST",
                tg("sendDocument"),
                {
                    "chat_id": CHAT,
                    "document": ("big.jpg", "image/jpeg", b"\xff" * (10 * 2**20 + 1)),
                },
            )
        ],
        ChatSent(SUCCESS, "47"),
    ),
    Row(
        "photo refused by Telegram",
        lambda c: c.send_chat_photo(TG, CHAT, PHOTO),
        [(tg("sendPhoto"), tg_error(400, "Bad Request: IMAGE_PROCESS_FAILED"))],
        [("POST", tg("sendPhoto"), {"chat_id": CHAT, "photo": ("photo.png", "image/png", PNG)})],
        ChatSent(REJECTED, reason="REJECTED: Bad Request: IMAGE_PROCESS_FAILED"),
    ),
    Row(
        "caption over 1024 characters: nothing sent",
        lambda c: c.send_chat_media(TG, CHAT, PHOTO, "c" * 1025),
        [],
        [],
        ChatSent(REJECTED, reason="CAPTION_TOO_LONG"),
    ),
    Row(
        "empty file: nothing sent",
        lambda c: c.send_chat_media(TG, CHAT, OutgoingMedia(b"", "x.pdf", "application/pdf")),
        [],
        [],
        ChatSent(REJECTED, reason="MEDIA_EMPTY"),
    ),
]


def telegram(client: httpx.AsyncClient) -> TelegramChannel:
    return TelegramChannel(base_url=TG_BASE, client=client)


TG_SECRETS = (TG_TOKEN, TG_TOKEN.split(":")[1])


@pytest.mark.parametrize("row", TELEGRAM_SENDS, ids=lambda r: r.id)
async def test_telegram_send(row: Row) -> None:
    await run(row, telegram, TG_SECRETS)


# --- Telegram: a person's media ------------------------------------------------------------------

PHOTO_REF = MediaRef("AgACAgIAAxk-x", mime="image/jpeg", size=len(PNG))
FILE_PATH = "photos/file_12.jpg"
DOWNLOAD = f"/file/bot{TG_TOKEN}/{FILE_PATH}"


def got_file(size: int | None = len(PNG), path: str | None = FILE_PATH) -> httpx.Response:
    result: dict[str, Any] = {"file_id": "AgACAgIAAxk-x", "file_unique_id": "AQADx"}
    if size is not None:
        result["file_size"] = size
    if path is not None:
        result["file_path"] = path
    return ok(result)


def octets(data: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(
        200, content=data, headers={"content-type": "application/octet-stream", **headers}
    )


async def _trickle(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


def unsized(data: bytes) -> httpx.Response:
    """An answer streamed without Content-Length: only counting the bytes can stop it."""
    return httpx.Response(200, content=_trickle(data))


GET_FILE = ("POST", tg("getFile"), {"file_id": "AgACAgIAAxk-x"})

TELEGRAM_FETCHES = [
    Row(
        "photo: getFile, then the file's bytes, typed as the update said",
        lambda c: c.fetch_media(TG, PHOTO_REF),
        [(tg("getFile"), got_file()), (DOWNLOAD, octets(PNG))],
        [GET_FILE, ("GET", DOWNLOAD, b"")],
        FetchedMedia(PNG, "image/jpeg"),
    ),
    Row(
        "document keeps its name; a type from the file's path when the update gave none",
        lambda c: c.fetch_media(TG, MediaRef("AgACAgIAAxk-x", name="invoice.pdf")),
        [
            (tg("getFile"), got_file(len(PDF), "documents/file_3.pdf")),
            (f"/file/bot{TG_TOKEN}/documents/file_3.pdf", octets(PDF)),
        ],
        [GET_FILE, ("GET", f"/file/bot{TG_TOKEN}/documents/file_3.pdf", b"")],
        FetchedMedia(PDF, "application/pdf", "invoice.pdf"),
    ),
    Row(
        "larger than the limit by the update's size: nothing asked",
        lambda c: c.fetch_media(TG, MediaRef("AgACAgIAAxk-x", size=MAX_MEDIA_BYTES + 1)),
        [],
        [],
        raises=MediaTooLarge,
    ),
    Row(
        "larger than the limit by getFile's size: not downloaded",
        lambda c: c.fetch_media(TG, MediaRef("AgACAgIAAxk-x")),
        [(tg("getFile"), got_file(MAX_MEDIA_BYTES + 1))],
        [GET_FILE],
        raises=MediaTooLarge,
    ),
    Row(
        "larger than the limit by Content-Length",
        lambda c: c.fetch_media(TG, MediaRef("AgACAgIAAxk-x"), limit=100),
        [(tg("getFile"), got_file(None)), (DOWNLOAD, octets(PNG))],
        [GET_FILE, ("GET", DOWNLOAD, b"")],
        raises=MediaTooLarge,
    ),
    Row(
        "larger than the limit as it arrives",
        lambda c: c.fetch_media(TG, MediaRef("AgACAgIAAxk-x"), limit=2500),
        [(tg("getFile"), got_file(None)), (DOWNLOAD, unsized(b"z" * 5000))],
        [GET_FILE, ("GET", DOWNLOAD, b"")],
        raises=MediaTooLarge,
    ),
    Row(
        "exactly the limit is fine",
        lambda c: c.fetch_media(TG, MediaRef("AgACAgIAAxk-x"), limit=5000),
        [(tg("getFile"), got_file(None)), (DOWNLOAD, unsized(b"z" * 5000))],
        [GET_FILE, ("GET", DOWNLOAD, b"")],
        FetchedMedia(b"z" * 5000, "image/jpeg"),
    ),
    Row(
        "an unknown file_id",
        lambda c: c.fetch_media(TG, PHOTO_REF),
        [(tg("getFile"), tg_error(400, "Bad Request: invalid file_id"))],
        [GET_FILE],
        raises=MediaFetchError,
        reason="MEDIA_UNAVAILABLE: getFile 400",
    ),
    Row(
        "getFile with no path (a file too big for bots)",
        lambda c: c.fetch_media(TG, MediaRef("AgACAgIAAxk-x")),
        [(tg("getFile"), got_file(None, None))],
        [GET_FILE],
        raises=MediaFetchError,
        reason="MEDIA_UNAVAILABLE: getFile gave no file_path",
    ),
    Row(
        "the download is gone",
        lambda c: c.fetch_media(TG, PHOTO_REF),
        [(tg("getFile"), got_file()), (DOWNLOAD, httpx.Response(404, text="Not Found"))],
        [GET_FILE, ("GET", DOWNLOAD, b"")],
        raises=MediaFetchError,
        reason="MEDIA_UNAVAILABLE: HTTP 404",
    ),
    Row(
        "the download breaks off",
        lambda c: c.fetch_media(TG, PHOTO_REF),
        [(tg("getFile"), got_file()), (DOWNLOAD, httpx.ReadError(f"reading {DOWNLOAD}"))],
        [GET_FILE, ("GET", DOWNLOAD, b"")],
        raises=MediaFetchError,
        reason="MEDIA_UNAVAILABLE: ReadError",
    ),
]


@pytest.mark.parametrize("row", TELEGRAM_FETCHES, ids=lambda r: r.id)
async def test_telegram_fetch(row: Row) -> None:
    await run(row, telegram, TG_SECRETS)


# --- Viber: sending ------------------------------------------------------------------------------


def vb_answer(status: int, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"status": status, "status_message": "ok" if not status else "e"}
    if status == 0:
        body.update(message_token=MESSAGE_TOKEN, chat_hostname="SN-CHAT-05_")
    return httpx.Response(200, json={**body, **extra})


SEND = "/pa/send_message"
INFO = "/pa/get_account_info"
OLGA = {"name": "Olga"}


def vb_body(type_: str, sender: dict[str, str] = OLGA, **fields: Any) -> dict[str, Any]:
    return {"receiver": USER, "min_api_version": 1, "sender": sender, "type": type_, **fields}


VIBER_SENDS = [
    Row(
        "text waits for its receipt",
        lambda c: c.send_chat_text(VB, USER, "Hello, how can I help?", from_name="Olga"),
        [(SEND, vb_answer(0))],
        [("POST", SEND, vb_body("text", text="Hello, how can I help?"))],
        ChatSent(NEW, str(MESSAGE_TOKEN)),
        headers={"x-viber-auth-token": VB_TOKEN},
    ),
    Row(
        "without an operator name, the bot's own (asked once)",
        lambda c: _twice(c.send_chat_text, VB, USER, "Hi"),
        [
            (INFO, vb_answer(0, id="pa:1", name="Shop Support", webhook="https://h")),
            (SEND, vb_answer(0)),
            (SEND, vb_answer(0)),
        ],
        [
            ("POST", INFO, {}),
            ("POST", SEND, vb_body("text", {"name": "Shop Support"}, text="Hi")),
            ("POST", SEND, vb_body("text", {"name": "Shop Support"}, text="Hi")),
        ],
        [ChatSent(NEW, str(MESSAGE_TOKEN))] * 2,
    ),
    Row(
        "a sender name is cut to 28 characters",
        lambda c: c.send_chat_text(VB, USER, "Hi", from_name="O" * 40),
        [(SEND, vb_answer(0))],
        [("POST", SEND, vb_body("text", {"name": "O" * 28}, text="Hi"))],
        ChatSent(NEW, str(MESSAGE_TOKEN)),
    ),
    Row(
        "picture by URL, its caption as the text",
        lambda c: c.send_chat_media(VB, USER, PHOTO, "Your receipt", from_name="Olga"),
        [(SEND, vb_answer(0))],
        [("POST", SEND, vb_body("picture", text="Your receipt", media=PHOTO.url))],
        ChatSent(NEW, str(MESSAGE_TOKEN)),
    ),
    Row(
        "picture without a caption still has a text",
        lambda c: c.send_chat_picture(VB, USER, "https://c.test/p.jpg", from_name="Olga"),
        [(SEND, vb_answer(0))],
        [("POST", SEND, vb_body("picture", text="", media="https://c.test/p.jpg"))],
        ChatSent(NEW, str(MESSAGE_TOKEN)),
    ),
    Row(
        "file by URL with its name and size",
        lambda c: c.send_chat_media(VB, USER, INVOICE, from_name="Olga"),
        [(SEND, vb_answer(0))],
        [
            (
                "POST",
                SEND,
                vb_body("file", media=INVOICE.url, size=len(PDF), file_name="invoice.pdf"),
            )
        ],
        ChatSent(NEW, str(MESSAGE_TOKEN)),
    ),
    Row(
        "a file's caption goes first, as a text",
        lambda c: c.send_chat_media(VB, USER, INVOICE, "Invoice", from_name="Olga"),
        [(SEND, vb_answer(0, message_token=1)), (SEND, vb_answer(0))],
        [
            ("POST", SEND, vb_body("text", text="Invoice")),
            (
                "POST",
                SEND,
                vb_body("file", media=INVOICE.url, size=len(PDF), file_name="invoice.pdf"),
            ),
        ],
        ChatSent(NEW, str(MESSAGE_TOKEN)),
    ),
    Row(
        "media Cascade serves nowhere cannot go to Viber",
        lambda c: c.send_chat_media(VB, USER, OutgoingMedia(PNG, "p.png", "image/png")),
        [],
        [],
        ChatSent(REJECTED, reason="MEDIA_URL_MISSING"),
    ),
    Row(
        "a file over 50 MB: nothing sent",
        lambda c: c.send_chat_file(VB, USER, "https://c/f.zip", "f.zip", 50 * 2**20 + 1),
        [],
        [],
        ChatSent(REJECTED, reason="MEDIA_TOO_LARGE"),
    ),
    Row(
        "not subscribed",
        lambda c: c.send_chat_text(VB, USER, "Hi", from_name="Olga"),
        [(SEND, vb_answer(6))],
        [("POST", SEND, vb_body("text", text="Hi"))],
        ChatSent(REJECTED, reason="NOT_SUBSCRIBED"),
    ),
    Row(
        "too many requests may be sent again",
        lambda c: c.send_chat_text(VB, USER, "Hi", from_name="Olga"),
        [(SEND, vb_answer(12))],
        [("POST", SEND, vb_body("text", text="Hi"))],
        ChatSent(REJECTED, reason="TOO_MANY_REQUESTS", retryable=True),
    ),
    Row(
        "an unreadable 200 is in doubt",
        lambda c: c.send_chat_text(VB, USER, "Hi", from_name="Olga"),
        [(SEND, httpx.Response(200, content=b"<html>"))],
        [("POST", SEND, vb_body("text", text="Hi"))],
        ChatSent(REJECTED, reason="BAD_RESPONSE"),
    ),
    Row(
        "a 503 may be sent again",
        lambda c: c.send_chat_text(VB, USER, "Hi", from_name="Olga"),
        [(SEND, httpx.Response(503))],
        [("POST", SEND, vb_body("text", text="Hi"))],
        ChatSent(REJECTED, reason="HTTP_503", retryable=True),
    ),
]


async def _twice(send: Callable[..., Awaitable[ChatSent]], *args: Any) -> list[ChatSent]:
    return [await send(*args), await send(*args)]


def viber(client: httpx.AsyncClient) -> ViberBotChannel:
    return ViberBotChannel(base_url=VB_BASE, client=client)


@pytest.mark.parametrize("row", VIBER_SENDS, ids=lambda r: r.id)
async def test_viber_send(row: Row) -> None:
    await run(row, viber, (VB_TOKEN,))


# --- Viber: a person's media ---------------------------------------------------------------------

MEDIA_HOST = "https://dl-media.viber.test"
MEDIA_PATH = "/1/share/2/bots/img/abc.jpg"
MEDIA = MediaRef(f"{MEDIA_HOST}{MEDIA_PATH}")

VIBER_FETCHES = [
    Row(
        "picture from its URL, typed as served, without the bot's token",
        lambda c: c.fetch_media(VB, MEDIA),
        [(MEDIA_PATH, httpx.Response(200, content=PNG, headers={"content-type": "image/png"}))],
        [("GET", MEDIA_PATH, b"")],
        FetchedMedia(PNG, "image/png"),
        headers={"x-viber-auth-token": None},
    ),
    Row(
        "file keeps its name",
        lambda c: c.fetch_media(
            VB, MediaRef(f"{MEDIA_HOST}/f/i.pdf", "invoice.pdf", size=len(PDF))
        ),
        [
            (
                "/f/i.pdf",
                httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"}),
            )
        ],
        [("GET", "/f/i.pdf", b"")],
        FetchedMedia(PDF, "application/pdf", "invoice.pdf"),
    ),
    Row(
        "no type served: bytes",
        lambda c: c.fetch_media(VB, MEDIA),
        [(MEDIA_PATH, httpx.Response(200, content=PNG))],
        [("GET", MEDIA_PATH, b"")],
        FetchedMedia(PNG, "application/octet-stream"),
    ),
    Row(
        "larger than the limit by the callback's size: not fetched",
        lambda c: c.fetch_media(VB, MediaRef(MEDIA.ref, size=MAX_MEDIA_BYTES + 1)),
        [],
        [],
        raises=MediaTooLarge,
    ),
    Row(
        "larger than the limit as it arrives",
        lambda c: c.fetch_media(VB, MEDIA, limit=1000),
        [(MEDIA_PATH, unsized(b"q" * 3000))],
        [("GET", MEDIA_PATH, b"")],
        raises=MediaTooLarge,
    ),
    Row(
        "expired (Viber keeps media about an hour)",
        lambda c: c.fetch_media(VB, MEDIA),
        [(MEDIA_PATH, httpx.Response(403))],
        [("GET", MEDIA_PATH, b"")],
        raises=MediaFetchError,
        reason="MEDIA_UNAVAILABLE: HTTP 403",
    ),
]


@pytest.mark.parametrize("row", VIBER_FETCHES, ids=lambda r: r.id)
async def test_viber_fetch(row: Row) -> None:
    await run(row, viber, (VB_TOKEN,))


def test_both_bot_channels_carry_chats() -> None:
    assert isinstance(TelegramChannel(base_url=TG_BASE), BotChat)
    assert isinstance(ViberBotChannel(base_url=VB_BASE), BotChat)


async def test_too_large_says_the_sizes_and_never_the_url() -> None:
    with scripted("") as api:
        api.expect(Exchange(got_file(MAX_MEDIA_BYTES + 5), tg("getFile")))
        async with channel_on(api, telegram) as channel:
            with pytest.raises(MediaTooLarge) as caught:
                await channel.fetch_media(TG, MediaRef("AgACAgIAAxk-x"))
    assert caught.value.size == MAX_MEDIA_BYTES + 5
    assert caught.value.limit == MAX_MEDIA_BYTES == 20 * 1024 * 1024
    assert str(caught.value) == (
        f"MEDIA_TOO_LARGE: {MAX_MEDIA_BYTES + 5} bytes, the limit is {MAX_MEDIA_BYTES} bytes"
    )


def test_the_multipart_reader_reads_what_it_is_given() -> None:
    # the row checks rest on this reader: show it tells parts, names and bytes apart
    request = httpx.Request(
        "POST",
        "https://x.test/",
        data={"chat_id": "5", "caption": "é"},
        files={"photo": ("a b.png", b"\x00\r\n--x\r\n", "image/png")},
    )
    request.read()
    assert multipart(request) == {
        "chat_id": "5",
        "caption": "é",
        "photo": ("a b.png", "image/png", b"\x00\r\n--x\r\n"),
    }
