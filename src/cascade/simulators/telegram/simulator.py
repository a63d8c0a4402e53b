"""A Telegram Bot API stand-in's state: the real methods' parameters, answers and errors.

What it speaks (the subset Cascade uses): `sendMessage`, `setWebhook`, `deleteWebhook`,
`getWebhookInfo`, `getMe` and `answerCallbackQuery`, answering `{"ok": true, "result":
...}` or `{"ok": false, "error_code", "description", "parameters"}`. Flood control is per
bot (30/s) and per chat (1/s), answered with 429 and `retry_after` (`flood`).

Users are derived from phones (`users`). Whether a chat exists and what it does is the
phone's `Behaviour` (`Scripts("telegram")`), overridden per bot by what users did through
the admin endpoints (started the bot, blocked it). User actions call the bot's webhook as
Telegram does (JSON `Update`, the `X-Telegram-Bot-Api-Secret-Token` header), execute a
method returned in the webhook's response body, and answer with the update, the
webhook's status and that method's result.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import mimetypes
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from cascade.clock import Clock, SystemClock
from cascade.simulators.phones import normal_phone
from cascade.simulators.script import Behaviour, Scripts
from cascade.simulators.telegram.flood import Buckets
from cascade.simulators.telegram.users import Json, bot_user, chat, chat_id_for, phone_for, user

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024
MAX_UPLOAD = 50 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile answers no path for a larger file
# the folder getFile's path puts a file in, by what it is
_FOLDERS = {"photo": "photos", "document": "documents", "voice": "voice", "video": "videos"}
PER_BOT_PER_SECOND = 30.0
PER_CHAT_PER_SECOND = 1.0
THROTTLE_RETRY_AFTER = 3  # seconds, when a phone's script says "throttle"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOKEN = re.compile(r"bot(\d{1,20}):[A-Za-z0-9_-]+")
_WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _ok(result: Any, description: str | None = None) -> tuple[int, Json]:
    body: Json = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return 200, body


def error(status: int, description: str, **parameters: Any) -> tuple[int, Json]:
    body: Json = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


_UNREADABLE = object()  # a parameter sent as a string that holds no JSON


def _from_json(value: object) -> object:
    """A parameter that is an object or an array in JSON: a form or a query string carries
    it as a JSON string (decoded here), a JSON body as itself."""
    if not isinstance(value, str):
        return value
    try:
        return msgspec.json.decode(value)
    except msgspec.DecodeError:
        return _UNREADABLE


class ReceivedMedia(msgspec.Struct, frozen=True):
    """A photo or a document a bot sent: enough to tell the bytes arrived whole."""

    file_id: str
    file_name: str
    mime: str
    size: int
    sha256: str


def _extension(name: str, mime: str) -> str:
    dot = name.rfind(".")
    if 0 <= dot < len(name) - 1 and len(name) - dot <= 6:
        return name[dot:].lower()
    return mimetypes.guess_extension(mime) or ""


def _without_name(document: Json) -> Json:
    return {key: value for key, value in document.items() if key != "file_name"}


class Received(msgspec.Struct, frozen=True):
    """One message the simulator accepted from a bot."""

    bot_id: int
    chat_id: int
    phone: str
    message_id: int
    text: str
    at_ms: int
    reply_markup: Json | None = None
    via: str = "api"  # "api", or "webhook_reply" for a method returned to a webhook call
    kind: str = "text"  # "text", "photo" (sendPhoto), "document" (sendDocument)
    media: ReceivedMedia | None = None  # what a photo or document carried (text: caption)


class Upload(msgspec.Struct, frozen=True):
    """A file in a multipart request (or a user's file, for `say`)."""

    name: str
    mime: str
    data: bytes


class StoredFile(msgspec.Struct, frozen=True):
    """A file Telegram keeps: what users sent and what bots uploaded. Its id works for the
    bot that saw it; getFile gives its path, and `/file/bot<token>/<path>` its bytes."""

    bot_id: int
    file_id: str
    file_unique_id: str
    path: str
    name: str
    mime: str
    data: bytes

    def photo_size(self) -> Json:
        # one size: the simulator does not scale images (Telegram sends several)
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "width": 640,
            "height": 480,
        }

    def document(self) -> Json:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.name,
            "mime_type": self.mime,
            "file_size": len(self.data),
        }


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str]
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class TelegramSimulator:
    """All the simulator's state; the app is a thin HTTP face over it."""

    rate_limits: bool = True
    clock: Clock = field(default_factory=SystemClock)
    scripts: Scripts = field(default_factory=lambda: Scripts("telegram"))
    received: list[Received] = field(default_factory=list)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    # (bot id, chat id) -> "member" (started the bot) or "kicked" (blocked it)
    members: dict[tuple[int, int], str] = field(default_factory=dict)
    revoked: set[int] = field(default_factory=set)
    files: dict[str, StoredFile] = field(default_factory=dict)  # by file_id
    _per_bot: Buckets = field(default_factory=lambda: Buckets(PER_BOT_PER_SECOND, 30.0))
    _per_chat: Buckets = field(default_factory=lambda: Buckets(PER_CHAT_PER_SECOND, 1.0))
    _message_ids: dict[tuple[int, int], itertools.count[int]] = field(default_factory=dict)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _file_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _http: httpx.AsyncClient | None = None

    # --- admin ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the personas: no scripts, no user actions, full rate buckets."""
        self.scripts.clear()
        self.members.clear()
        self._per_bot.clear()
        self._per_chat.clear()

    def behaviour(self, phone: str) -> Behaviour:
        return self.scripts.get(phone)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- the Bot API ----------------------------------------------------------------------

    def bot_id(self, path_segment: str) -> int | None:
        match = _TOKEN.fullmatch(path_segment)
        return int(match.group(1)) if match else None

    def call(
        self, bot_id: int, method: str, params: Json, *, limited: bool = True
    ) -> tuple[int, Json]:
        """One Bot API method call by an authenticated bot: (HTTP status, body)."""
        if bot_id in self.revoked:
            return error(401, "Unauthorized")
        name = method.lower()  # Bot API method names are case-insensitive
        if name == "sendmessage":
            return self._send_message(bot_id, params, limited=limited)
        if name == "sendphoto":
            return self._send_file(bot_id, "photo", params, limited=limited)
        if name == "senddocument":
            return self._send_file(bot_id, "document", params, limited=limited)
        if name == "getfile":
            return self._get_file(bot_id, params)
        if name == "setwebhook":
            return self._set_webhook(bot_id, params)
        if name == "deletewebhook":
            existed = self.webhooks.pop(bot_id, None) is not None
            return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")
        if name == "getwebhookinfo":
            return _ok(self._webhook_info(bot_id))
        if name == "getme":
            return _ok(bot_user(bot_id))
        if name == "answercallbackquery":
            if not params.get("callback_query_id"):
                return error(400, "Bad Request: query_id_invalid")
            return _ok(True)
        return error(404, "Not Found")

    # --- files ----------------------------------------------------------------------------

    def keep_file(self, bot_id: int, kind: str, upload: Upload) -> StoredFile:
        number = next(self._file_numbers)
        extension = _extension(upload.name, upload.mime)
        kept = StoredFile(
            bot_id=bot_id,
            file_id=f"{kind[:2].upper()}{bot_id:x}-{number}-{secrets.token_urlsafe(12)}",
            file_unique_id=f"U{number}{secrets.token_hex(4)}",
            path=f"{_FOLDERS.get(kind, 'documents')}/file_{number}{extension}",
            name=upload.name,
            mime=upload.mime,
            data=upload.data,
        )
        self.files[kept.file_id] = kept
        return kept

    def _get_file(self, bot_id: int, params: Json) -> tuple[int, Json]:
        file_id = params.get("file_id")
        if not file_id:
            return error(400, 'Bad Request: parameter "file_id" is required')
        kept = self.files.get(str(file_id))
        if kept is None or kept.bot_id != bot_id:  # a file id is the bot's own
            return error(400, "Bad Request: invalid file_id")
        result: Json = {
            "file_id": kept.file_id,
            "file_unique_id": kept.file_unique_id,
            "file_size": len(kept.data),
        }
        if len(kept.data) <= MAX_DOWNLOAD:
            result["file_path"] = kept.path
        return _ok(result)

    def download(self, bot_id: int, path: str) -> StoredFile | None:
        """The file at `path` for this bot (`GET /file/bot<token>/<path>`)."""
        if bot_id in self.revoked:
            return None
        for kept in self.files.values():
            if kept.bot_id == bot_id and kept.path == path and len(kept.data) <= MAX_DOWNLOAD:
                return kept
        return None

    def _next_message_id(self, bot_id: int, chat_id: int) -> int:
        counter = self._message_ids.setdefault((bot_id, chat_id), itertools.count(1))
        return next(counter)

    def _send_message(self, bot_id: int, params: Json, *, limited: bool) -> tuple[int, Json]:
        if params.get("chat_id") in (None, ""):
            return error(400, "Bad Request: chat_id is empty")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return error(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            return error(400, "Bad Request: message is too long")
        return self._deliver(bot_id, params, limited=limited, text=text)

    def _send_file(
        self, bot_id: int, field: str, params: Json, *, limited: bool
    ) -> tuple[int, Json]:
        """sendPhoto (`field` "photo") or sendDocument ("document"): a multipart upload, or
        the file_id of a file this bot already has."""
        if params.get("chat_id") in (None, ""):
            return error(400, "Bad Request: chat_id is empty")
        caption = params.get("caption") or ""
        if not isinstance(caption, str) or len(caption) > MAX_CAPTION:
            return error(400, "Bad Request: message caption is too long")
        given = params.get(field)
        if isinstance(given, Upload):
            if not given.data:
                return error(400, f"Bad Request: file must be non-empty ({field})")
            limit = MAX_PHOTO_UPLOAD if field == "photo" else MAX_UPLOAD
            if len(given.data) > limit:
                return error(413, "Request Entity Too Large")
            upload = given
        elif isinstance(given, str) and given in self.files:
            kept = self.files[given]
            upload = Upload(kept.name, kept.mime, kept.data)
        elif given in (None, ""):
            return error(400, f'Bad Request: parameter "{field}" is required')
        else:
            return error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return self._deliver(
            bot_id, params, limited=limited, text=caption, kind=field, upload=upload
        )

    def _deliver(
        self,
        bot_id: int,
        params: Json,
        *,
        limited: bool,
        text: str,
        kind: str = "text",
        upload: Upload | None = None,
    ) -> tuple[int, Json]:
        """The checks every send passes (chat, flood control, the phone's script), then the
        message recorded as the user received it."""
        raw_chat = params.get("chat_id")
        markup = _from_json(params.get("reply_markup"))
        if markup is not None and not isinstance(markup, dict):
            return error(400, "Bad Request: can't parse reply keyboard markup JSON object")
        try:
            chat_id = int(str(raw_chat))
        except ValueError:
            return error(400, "Bad Request: chat not found")  # "@username": no channels here

        now = self.clock.monotonic()
        if limited and self.rate_limits:
            wait = max(self._per_bot.wait(bot_id, now), self._per_chat.wait((bot_id, chat_id), now))
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                return error(
                    429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
                )

        phone = phone_for(chat_id)
        if phone is None:
            return error(400, "Bad Request: chat not found")
        behaviour = self.behaviour(phone)
        if behaviour.throttle:
            return error(
                429,
                f"Too Many Requests: retry after {THROTTLE_RETRY_AFTER}",
                retry_after=THROTTLE_RETRY_AFTER,
            )
        member = self.members.get((bot_id, chat_id))
        if member == "kicked" or (member is None and behaviour.blocked):
            return error(403, "Forbidden: bot was blocked by the user")
        if member is None and not behaviour.reachable:
            return error(400, "Bad Request: chat not found")
        if behaviour.fail:
            return error(400, f"Bad Request: {behaviour.fail_reason}")

        if limited and self.rate_limits:
            self._per_bot.take(bot_id, now)
            self._per_chat.take((bot_id, chat_id), now)
        message_id = self._next_message_id(bot_id, chat_id)
        at_ms = self.clock.now_ms()
        media: ReceivedMedia | None = None
        result: Json = {
            "message_id": message_id,
            "from": bot_user(bot_id),
            "chat": chat(phone),
            "date": at_ms // 1000,
        }
        if upload is None:
            result["text"] = text
        else:
            kept = self.keep_file(bot_id, kind, upload)
            media = ReceivedMedia(
                file_id=kept.file_id,
                file_name=upload.name,
                mime=upload.mime,
                size=len(upload.data),
                sha256=hashlib.sha256(upload.data).hexdigest(),
            )
            result[kind] = [kept.photo_size()] if kind == "photo" else kept.document()
            if text:
                result["caption"] = text
        self.received.append(
            Received(
                bot_id=bot_id,
                chat_id=chat_id,
                phone=phone,
                message_id=message_id,
                text=text,
                at_ms=at_ms,
                reply_markup=markup,
                via="api" if limited else "webhook_reply",
                kind=kind,
                media=media,
            )
        )
        if markup is not None and "inline_keyboard" in markup:
            result["reply_markup"] = markup  # Telegram echoes inline keyboards only
        return _ok(result)

    def _set_webhook(self, bot_id: int, params: Json) -> tuple[int, Json]:
        url = params.get("url")
        if url is None:
            return error(400, 'Bad Request: parameter "url" is required')
        url = str(url)
        if not url:
            existed = self.webhooks.pop(bot_id, None) is not None
            return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")
        if not url.startswith(("http://", "https://")):
            return error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            return error(400, "Bad Request: secret token contains unallowed characters")
        allowed = _from_json(params.get("allowed_updates"))
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
        ):
            return error(400, "Bad Request: can't parse allowed updates")
        previous = self.webhooks.get(bot_id)
        # Like Telegram, an omitted allowed_updates keeps the previous setting.
        kept = allowed if allowed is not None else (previous.allowed_updates if previous else [])
        webhook = Webhook(url, str(secret) if secret else None, list(kept))
        same = previous is not None and (previous.url, previous.secret_token) == (
            url,
            webhook.secret_token,
        )
        self.webhooks[bot_id] = webhook
        return _ok(True, "Webhook is already set" if same else "Webhook was set")

    def _webhook_info(self, bot_id: int) -> Json:
        webhook = self.webhooks.get(bot_id)
        info: Json = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if webhook is None:
            return info
        info.update(url=webhook.url, max_connections=40)
        if webhook.allowed_updates:
            info["allowed_updates"] = webhook.allowed_updates
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        return info

    # --- users ----------------------------------------------------------------------------

    def _user_message(self, bot_id: int, phone: str, **content: Any) -> Json:
        chat_id = chat_id_for(phone)
        return {
            "message_id": self._next_message_id(bot_id, chat_id),
            "from": user(phone),
            "chat": chat(phone),
            "date": self.clock.now_ms() // 1000,
            **content,
        }

    def _member_update(self, bot_id: int, phone: str, old: str, new: str) -> Json:
        bot = bot_user(bot_id)
        new_member: Json = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        return {
            "chat": chat(phone),
            "from": user(phone),
            "date": self.clock.now_ms() // 1000,
            "old_chat_member": {"status": old, "user": bot},
            "new_chat_member": new_member,
        }

    async def start(self, bot_id: int, phone: str) -> Json:
        """The user opens the bot and presses Start (unblocking it if it was blocked)."""
        chat_id = chat_id_for(phone)
        results = []
        member = self.members.get((bot_id, chat_id))
        if member == "kicked" or (member is None and self.behaviour(phone).blocked):
            self.members[(bot_id, chat_id)] = "member"
            update = self._member_update(bot_id, phone, "kicked", "member")
            results.append(await self.push(bot_id, "my_chat_member", update))
        self.members[(bot_id, chat_id)] = "member"
        text = "/start"
        entities = [{"offset": 0, "length": len(text), "type": "bot_command"}]
        message = self._user_message(bot_id, phone, text=text, entities=entities)
        results.append(await self.push(bot_id, "message", message))
        return results[-1] | {"updates": len(results)}

    async def share_contact(self, bot_id: int, phone: str, of: str | None = None) -> Json:
        """The user taps "share my phone number" (or shares someone else's contact, `of`)."""
        chat_id = chat_id_for(phone)
        self.members.setdefault((bot_id, chat_id), "member")
        owner = normal_phone(of) if of else phone
        contact = {
            "phone_number": owner.lstrip("+"),  # Telegram sends the account's digits
            "first_name": f"User {owner[-4:]}",
            "user_id": chat_id_for(owner),
        }
        message = self._user_message(bot_id, phone, contact=contact)
        return await self.push(bot_id, "message", message)

    async def block(self, bot_id: int, phone: str) -> Json:
        chat_id = chat_id_for(phone)
        self.members[(bot_id, chat_id)] = "kicked"
        return await self.push(
            bot_id, "my_chat_member", self._member_update(bot_id, phone, "member", "kicked")
        )

    async def unblock(self, bot_id: int, phone: str) -> Json:
        chat_id = chat_id_for(phone)
        self.members[(bot_id, chat_id)] = "member"
        return await self.push(
            bot_id, "my_chat_member", self._member_update(bot_id, phone, "kicked", "member")
        )

    async def send_media(
        self, bot_id: int, phone: str, kind: str, upload: Upload, caption: str = ""
    ) -> Json:
        """The user sends a photo, a document, a voice note or a video (`kind`)."""
        self.members.setdefault((bot_id, chat_id_for(phone)), "member")
        kept = self.keep_file(bot_id, kind, upload)
        content: Json
        if kind == "photo":
            content = {"photo": [kept.photo_size()]}
        elif kind == "voice":
            content = {"voice": {**_without_name(kept.document()), "duration": 1}}
        elif kind == "video":
            video = kept.document() | {"duration": 1, "width": 640, "height": 360}
            content = {"video": video}
        else:
            content = {"document": kept.document()}
        if caption and kind != "voice":
            content["caption"] = caption
        return await self.push(bot_id, "message", self._user_message(bot_id, phone, **content))

    async def send_location(self, bot_id: int, phone: str, lat: float, lon: float) -> Json:
        location = {"latitude": lat, "longitude": lon}
        return await self.push(
            bot_id, "message", self._user_message(bot_id, phone, location=location)
        )

    async def say(self, bot_id: int, phone: str, text: str, reply_to: int | None = None) -> Json:
        """The user writes `text`, optionally as a reply to one of the bot's messages."""
        content: Json = {"text": text}
        if reply_to is not None:
            original = self._find_sent(bot_id, phone, lambda r: r.message_id == reply_to)
            if original is None:
                return {"error": "no such message in this chat"}
            content["reply_to_message"] = self._as_message(original)
        return await self.push(bot_id, "message", self._user_message(bot_id, phone, **content))

    async def press(self, bot_id: int, phone: str, text: str) -> Json:
        """The user presses the inline button labelled `text` on the latest message with it."""

        def has_button(r: Received) -> bool:
            return self._button(r, text) is not None

        original = self._find_sent(bot_id, phone, has_button)
        button = self._button(original, text) if original else None
        if original is None or button is None:
            return {"error": "no inline button with this text in this chat"}
        query = {
            "id": str(secrets.randbelow(10**18)),
            "from": user(phone),
            "message": self._as_message(original),
            "chat_instance": str(chat_id_for(phone) ^ bot_id),
            "data": button.get("callback_data", ""),
        }
        return await self.push(bot_id, "callback_query", query)

    def _find_sent(
        self, bot_id: int, phone: str, test: Callable[[Received], bool]
    ) -> Received | None:
        chat_id = chat_id_for(phone)
        for item in reversed(self.received):
            if item.bot_id == bot_id and item.chat_id == chat_id and test(item):
                return item
        return None

    @staticmethod
    def _button(item: Received, text: str) -> Json | None:
        rows = (item.reply_markup or {}).get("inline_keyboard") or []
        for row in rows:
            for button in row:
                if isinstance(button, dict) and button.get("text") == text:
                    return button
        return None

    def _as_message(self, item: Received) -> Json:
        message: Json = {
            "message_id": item.message_id,
            "from": bot_user(item.bot_id),
            "chat": chat(item.phone),
            "date": item.at_ms // 1000,
            "text": item.text,
        }
        if item.reply_markup and "inline_keyboard" in item.reply_markup:
            message["reply_markup"] = item.reply_markup
        return message

    # --- webhook delivery -----------------------------------------------------------------

    async def push(self, bot_id: int, kind: str, payload: Json) -> Json:
        """Deliver one update to the bot's webhook; run a method its answer carries."""
        update = {"update_id": next(self._update_ids), kind: payload}
        outcome: Json = {"update": update, "delivered": False, "webhook_status": None}
        webhook = self.webhooks.get(bot_id)
        if webhook is None:
            outcome["error"] = "no webhook set for this bot"
            return outcome
        if webhook.allowed_updates and kind not in webhook.allowed_updates:
            outcome["error"] = f"{kind} is not in the webhook's allowed_updates"
            return outcome
        headers = {"content-type": "application/json"}
        if webhook.secret_token:
            headers["x-telegram-bot-api-secret-token"] = webhook.secret_token
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=_WEBHOOK_TIMEOUT)
        try:
            response = await self._http.post(
                webhook.url, content=msgspec.json.encode(update), headers=headers
            )
        except httpx.HTTPError as error:
            self._webhook_failed(webhook, f"Connection failed: {type(error).__name__}")
            outcome["error"] = webhook.last_error_message
            return outcome
        outcome["webhook_status"] = response.status_code
        if not 200 <= response.status_code < 300:
            self._webhook_failed(
                webhook,
                f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}",
            )
            outcome["error"] = webhook.last_error_message
            return outcome
        outcome["delivered"] = True
        outcome["reply"] = self._run_reply(bot_id, response.content)
        return outcome

    def _webhook_failed(self, webhook: Webhook, message: str) -> None:
        webhook.last_error_date = self.clock.now_ms() // 1000
        webhook.last_error_message = message

    def _run_reply(self, bot_id: int, body: bytes) -> Json | None:
        if not body.strip():
            return None
        try:
            params = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return None  # Telegram ignores a body it cannot read
        if not isinstance(params, dict) or not isinstance(params.get("method"), str):
            return None
        method = params.pop("method")
        # Telegram reports nothing back about methods run from a webhook reply, and does not
        # hold them to the bot's flood limits here; the outcome is kept for tests to read.
        status, answer = self.call(bot_id, method, params, limited=False)
        return {"method": method, "status": status, "body": answer}
