"""ChatHub's REST routes for chats and messages (SPEC E3), and their media.

| Method | Path | Meaning |
|---|---|---|
| GET | `/api/chat/chats` | the chats the caller sees, filtered and paged |
| PUT | `/api/chat/status` | `{"id", "status"}`: 0 New … 4 Closed |
| DELETE | `/api/chat/chats/{id}` | remove a chat, its messages and their media |
| GET | `/api/chat/{chatId}/messages` | `page` (1), `per_page` (50, at most 100): oldest first |
| POST | `/api/chat/{chatId}/message` | an operator's message (text, and media as base64) |
| GET | `/api/chat/{chatId}/media/{mediaId}` | a media's bytes (authenticated as the rest) |
| GET | `/api/chat/media/public/{token}/{name}` | an operator's upload, for Viber to fetch |

The public media URL takes no credentials; each client address may fetch at the rate
`CASCADE_PUBLIC_MEDIA_RATE` / `_BURST` allow (429 with Retry-After above it).

`GET /api/chat/chats` filters: `page` (1), `per_page` (20, at most 100), `search` (the
person's name, phone or address, the theme, the messages' text), `source` (1 Viber bot,
2 Telegram), `date` (a day `2026-01-31` or an instant; once: that day, or from that
instant on; twice: from the first to the second, a day counting whole), `tg_user_id` (a
Telegram chat id), `phone` (E.164), `status` (0-4), `organizationId`, `operatorId`. The
dates bound each chat's last message. An operator token sees its organization's chats;
a company token or API key every chat of its account. A chat the caller may not see is
answered 404, as one that does not exist.

Media: `dataBase64` must be base64 (400 otherwise); decoded, at most 20 MB (413 above:
`MAX_MEDIA_BYTES`); `format` a MIME type or an extension. Media are served with their
type, `X-Content-Type-Options: nosniff` and a sandboxing CSP; anything but images, audio
and video as an attachment. Reading a chat's messages marks it read (`countUnread` 0).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from cascade.api.app import JSON
from cascade.api.chathub.conversations import (
    Conversations,
    Upload,
    audience_of,
    chat_out,
    decode_upload,
    message_out,
)
from cascade.api.chathub.tokens import ChatPrincipal
from cascade.api.chathub.wire import (
    CHATS_PER_PAGE,
    ENCODER,
    MAX_PAGE,
    MAX_SEARCH,
    MESSAGES_PER_PAGE,
    PHONE_QUERY_PATTERN,
    TG_USER_ID_PATTERN,
    ChatError,
    fields_of,
    id_field,
    query_id,
    required,
)
from cascade.domain.chats import (
    MAX_PER_PAGE,
    ChatQuery,
    ChatStatus,
    NewMedia,
    StoredMedia,
)

AnyRequest = Request[Any, Any, Any]
Admit = Callable[[AnyRequest], Awaitable[ChatPrincipal]]
BodyOf = Callable[[AnyRequest], Awaitable[Any]]
Guard = Callable[[AnyRequest], Awaitable[None]]

_INLINE = ("image/", "audio/", "video/")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a public media token (URL-safe base64)


def chat_routes(
    c: Conversations, admit: Admit, body_of: BodyOf, public_throttle: Guard
) -> list[HTTPRouteHandler]:
    """The routes; `public_throttle` refuses (429) a client address over its rate for the
    public media URL, before the token is looked up, so guessing tokens is slow too."""

    @get("/chat/chats")
    async def list_chats(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request)
        query = _chat_query(request, principal, c.sources)
        page = await c.store.list_chats(principal.account.id, query)
        operators = await c.operators(principal.account.id)
        body = {
            "total": page.total,
            "items": [chat_out(chat, operators, c.sources) for chat in page.items],
        }
        return Response(ENCODER.encode(body), media_type=JSON)

    @put("/chat/status", status_code=200)
    async def chat_status(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request)
        found = fields_of(await body_of(request))
        chat_id = id_field(found, "id")
        status = _chat_status(required(found, "status"), "status")
        await c.visible_chat(principal, chat_id)
        chat = await c.store.set_chat_status(principal.account.id, chat_id, status)
        if chat is None:
            raise ChatError(404, "No such chat", "id")
        await c.hub.publish("ChatStatusChanged", [chat.id, int(chat.status)], audience_of(chat))
        operators = await c.operators(principal.account.id)
        return Response(ENCODER.encode(chat_out(chat, operators, c.sources)), media_type=JSON)

    @delete("/chat/chats/{chat_id:str}", status_code=204)
    async def delete_chat(request: AnyRequest, chat_id: FromPath[str]) -> None:
        principal = await admit(request)
        await c.visible_chat(principal, _path_id(chat_id))
        await c.store.delete_chat(principal.account.id, int(chat_id))

    @get("/chat/{chat_id:str}/messages")
    async def messages(request: AnyRequest, chat_id: FromPath[str]) -> Response[bytes]:
        principal = await admit(request)
        chat = await c.visible_chat(principal, _path_id(chat_id))
        page = _int_param(request, "page", 1, 1, MAX_PAGE)
        per_page = _int_param(request, "per_page", MESSAGES_PER_PAGE, 1, MAX_PER_PAGE)
        found = await c.store.chat_messages(principal.account.id, chat.id, page, per_page)
        if found is None:
            raise ChatError(404, "No such chat", "chatId")
        if chat.unread:
            await c.store.mark_chat_read(principal.account.id, chat.id)
        return Response(
            ENCODER.encode([message_out(m, c.public_url) for m in found]), media_type=JSON
        )

    @post("/chat/{chat_id:str}/message", status_code=200)
    async def send(request: AnyRequest, chat_id: FromPath[str]) -> Response[bytes]:
        principal = await admit(request)
        target = _path_id(chat_id)
        found = fields_of(await body_of(request))
        text = found.get("textmessage")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise ChatError(400, "textMessage must be a string", "textMessage")
        author = found.get("author", 0)
        if author != 0 or isinstance(author, bool):
            raise ChatError(400, "author must be 0: only operators' messages are sent", "author")
        media = _media(found.get("media"))
        await c.visible_chat(principal, target)
        message = await c.send(principal, target, text, media)
        return Response(ENCODER.encode(message_out(message, c.public_url)), media_type=JSON)

    @get("/chat/{chat_id:str}/media/{media_id:str}")
    async def media(
        request: AnyRequest, chat_id: FromPath[str], media_id: FromPath[str]
    ) -> Response[bytes]:
        principal = await admit(request)
        chat = await c.visible_chat(principal, _path_id(chat_id))
        stored = await c.store.chat_media(principal.account.id, chat.id, _path_id(media_id))
        if stored is None:
            raise ChatError(404, "No such media")
        return _serve(stored, private=True)

    @get("/chat/media/public/{token:str}/{name:str}")
    async def public_media(
        request: AnyRequest, token: FromPath[str], name: FromPath[str]
    ) -> Response[bytes]:
        await public_throttle(request)
        stored = await c.store.public_chat_media(token) if _TOKEN.fullmatch(token) else None
        if stored is None:
            raise ChatError(404, "No such media")
        return _serve(stored, private=False)

    return [list_chats, chat_status, delete_chat, messages, send, media, public_media]


def _serve(stored: StoredMedia, *, private: bool) -> Response[bytes]:
    info = stored.info
    inline = info.mime.startswith(_INLINE) and "svg" not in info.mime
    disposition = "inline" if inline else "attachment"
    safe_name = "".join(ch for ch in info.name if ch.isascii() and ch.isprintable() and ch != '"')
    return Response(
        stored.data,
        media_type=info.mime,
        headers={
            "Content-Disposition": f'{disposition}; filename="{safe_name or "media"}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, max-age=3600" if private else "public, max-age=3600",
        },
    )


def _media(raw: Any) -> NewMedia | None:
    if raw is None:
        return None
    found = fields_of(raw, "media")
    name = found.get("name")
    data = found.get("database64")
    fmt = found.get("format")
    if not isinstance(name, str):
        raise ChatError(400, "media.name must be a string", "media.name")
    if not isinstance(data, str):
        raise ChatError(400, "media.dataBase64 must be a base64 string", "media.dataBase64")
    if fmt is not None and not isinstance(fmt, str):
        raise ChatError(400, "media.format must be a string", "media.format")
    kind = found.get("type")
    if kind is not None and (isinstance(kind, bool) or not isinstance(kind, int)):
        raise ChatError(400, "media.type must be a number", "media.type")
    return decode_upload(Upload(name, fmt, data, kind))


def _path_id(raw: str) -> int:
    """An id in the path; anything else names nothing (404)."""
    try:
        return query_id(raw, "id")
    except ChatError:
        raise ChatError(404, "No such chat") from None


def _int_param(request: AnyRequest, name: str, default: int, least: int, most: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not least <= int(raw) <= most:
        raise ChatError(400, f"{name} must be a whole number from {least} to {most}", name)
    return int(raw)


def _chat_status(value: Any, field: str) -> ChatStatus:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in set(ChatStatus):
        raise ChatError(
            400,
            f"{field} must be 0 (New), 1 (Open), 2 (Waiting), 3 (OnPause) or 4 (Closed)",
            field,
        )
    return ChatStatus(value)


def _day_or_instant(raw: str, *, end: bool) -> int:
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            at = start + timedelta(days=1) - timedelta(milliseconds=1) if end else start
        else:
            at = datetime.fromisoformat(text.replace("z", "Z").replace(" ", "+"))
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
    except ValueError:
        raise ChatError(
            400, "date must be a day (2026-01-31) or an ISO 8601 date and time", "date"
        ) from None
    return int(at.timestamp() * 1000)


def _chat_query(
    request: AnyRequest, principal: ChatPrincipal, sources: Mapping[str, int]
) -> ChatQuery:
    params = request.query_params
    page = _int_param(request, "page", 1, 1, MAX_PAGE)
    per_page = _int_param(request, "per_page", CHATS_PER_PAGE, 1, MAX_PER_PAGE)
    channel = None
    raw_source = params.get("source")
    if raw_source:
        channels = {str(n): name for name, n in sources.items()}
        if raw_source not in channels:
            known = ", ".join(sorted(channels))
            raise ChatError(
                400, f"source must be one of {known} (1 Viber bot, 2 Telegram)", "source"
            )
        channel = channels[raw_source]
    dates = [d for d in params.getall("date", []) if d.strip()]
    date_from = date_to = None
    if len(dates) > 2:
        raise ChatError(400, "date may be given at most twice (a range)", "date")
    if len(dates) == 1:
        date_from = _day_or_instant(dates[0], end=False)
        if len(dates[0].strip()) == 10:
            date_to = _day_or_instant(dates[0], end=True)
    elif len(dates) == 2:
        date_from = _day_or_instant(dates[0], end=False)
        date_to = _day_or_instant(dates[1], end=True)
        if date_from > date_to:
            raise ChatError(400, "the first date is after the second", "date")
    address = params.get("tg_user_id") or None
    if address is not None:
        if re.fullmatch(TG_USER_ID_PATTERN, address) is None:
            raise ChatError(400, "tg_user_id must be a Telegram chat id (a number)", "tg_user_id")
        if channel not in (None, "telegram"):
            raise ChatError(400, "tg_user_id names a Telegram chat: source must be 2", "source")
        channel = "telegram"
    phone = params.get("phone") or None
    if phone is not None:
        found = re.fullmatch(PHONE_QUERY_PATTERN, phone)
        if found is None:
            raise ChatError(400, "phone must be an E.164 number, e.g. +380501234567", "phone")
        phone = "+" + found.group(1)
    status = None
    if params.get("status"):
        status = _chat_status(params["status"], "status")
    organization_id = None
    if params.get("organizationId"):
        organization_id = query_id(params["organizationId"], "organizationId")
        if not principal.sees(organization_id):
            raise ChatError(404, "No such organization", "organizationId")
    operator_id = None
    if params.get("operatorId"):
        operator_id = query_id(params["operatorId"], "operatorId")
    search = (params.get("search") or "").strip() or None
    if search is not None and len(search) > MAX_SEARCH:
        raise ChatError(400, f"search is longer than {MAX_SEARCH} characters", "search")
    if search is not None and "\x00" in search:  # no database text holds one (PostgreSQL)
        raise ChatError(400, "search cannot contain a NUL character", "search")
    return ChatQuery(
        organization_ids=principal.organization_ids,
        include_unowned=principal.is_company,
        page=page,
        per_page=per_page,
        search=search,
        channel=channel,
        date_from_ms=date_from,
        date_to_ms=date_to,
        address=address,
        phone=phone,
        status=status,
        organization_id=organization_id,
        operator_id=operator_id,
    )
