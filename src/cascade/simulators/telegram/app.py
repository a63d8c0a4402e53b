"""A Telegram Bot API stand-in: the real method paths, bodies and errors, on a real socket.

What it speaks (the subset Cascade uses): `POST|GET /bot{token}/{method}` for
`sendMessage`, `setWebhook`, `deleteWebhook`, `getWebhookInfo`, `getMe` and
`answerCallbackQuery`, with parameters as JSON, a form or a query string, and answers
`{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description", "parameters"}`.
Flood control is per bot (30/s) and per chat (1/s), answered with 429 and `retry_after`.

Users are derived from phones: a user's id, which is also the private chat's id, is
`CHAT_ID_OFFSET + the phone's digits` (stable, reversible, and never equal to the digits,
so a caller that skips the contact-linking step fails loudly). Whether a chat exists and
what it does is the phone's `Behaviour` (`Scripts("telegram")`), overridden per bot by
what users did through the admin endpoints (started the bot, blocked it).

Admin endpoints under `/_sim/` are not part of the Bot API (`bot` is a token or a bot id):

    PUT    /_sim/script/{phone}      a Behaviour as JSON for that phone
    DELETE /_sim/script              back to the personas (scripts, user actions, buckets)
    GET    /_sim/received            every accepted message, oldest first
    DELETE /_sim/received
    GET    /_sim/users/{phone}       the simulated user's chat id and behaviour
    POST   /_sim/users/{phone}/{action}?bot=..   start | share_contact[&of=phone] | block |
                                     unblock | say&text=..[&reply_to=id] | press&text=..
    POST   /_sim/bots/{bot}/revoke   the token stops working (401 Unauthorized)

User actions call the bot's webhook as Telegram does (JSON `Update`, the
`X-Telegram-Bot-Api-Secret-Token` header), execute a method returned in the webhook's
response body, and answer with the update, the webhook's status and that method's result.
Tokens are kept in memory only and never logged (`main` turns uvicorn's access log off).
"""

from __future__ import annotations

import itertools
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, Response, delete, get, post, put, route
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody

from cascade.clock import Clock, SystemClock
from cascade.simulators.script import Behaviour, Scripts

CHAT_ID_OFFSET = 10**15  # E.164 has at most 15 digits, so ids stay below 2**53
MAX_TEXT = 4096
PER_BOT_PER_SECOND = 30.0
PER_CHAT_PER_SECOND = 1.0
THROTTLE_RETRY_AFTER = 3  # seconds, when a phone's script says "throttle"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_TOKEN = re.compile(r"bot(\d{1,20}):[A-Za-z0-9_-]+")
_WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

Json = dict[str, Any]


def chat_id_for(phone: str) -> int:
    """The simulated user's (and private chat's) id for a phone number."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        raise ValueError("a phone number needs digits")
    return CHAT_ID_OFFSET + int(digits)


def phone_for(chat_id: int) -> str | None:
    """The phone behind a simulated private chat, or None for an id no user has."""
    digits = chat_id - CHAT_ID_OFFSET
    return f"+{digits}" if 0 < digits < CHAT_ID_OFFSET else None


def _normal_phone(raw: str) -> str:
    return f"+{re.sub(r'[^0-9]', '', raw)}"


def _ok(result: Any, description: str | None = None) -> tuple[int, Json]:
    body: Json = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return 200, body


def _error(status: int, description: str, **parameters: Any) -> tuple[int, Json]:
    body: Json = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


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


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    allowed_updates: list[str]
    last_error_date: int | None = None
    last_error_message: str | None = None


class _Buckets:
    """Token buckets keyed by bot or chat: `rate` per second, bursts of `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self._rate, self._burst = rate, burst
        self._state: dict[Any, tuple[float, float]] = {}

    def _tokens(self, key: Any, now: float) -> float:
        tokens, at = self._state.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - at) * self._rate)

    def wait(self, key: Any, now: float) -> float:
        """Seconds until one more message may pass (0 when it may pass now)."""
        missing = 1.0 - self._tokens(key, now)
        return 0.0 if missing <= 1e-9 else missing / self._rate

    def take(self, key: Any, now: float) -> None:
        self._state[key] = (self._tokens(key, now) - 1.0, now)

    def clear(self) -> None:
        self._state.clear()


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
    _per_bot: _Buckets = field(default_factory=lambda: _Buckets(PER_BOT_PER_SECOND, 30.0))
    _per_chat: _Buckets = field(default_factory=lambda: _Buckets(PER_CHAT_PER_SECOND, 1.0))
    _message_ids: dict[tuple[int, int], itertools.count[int]] = field(default_factory=dict)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
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
            return _error(401, "Unauthorized")
        name = method.lower()  # Bot API method names are case-insensitive
        if name == "sendmessage":
            return self._send_message(bot_id, params, limited=limited)
        if name == "setwebhook":
            return self._set_webhook(bot_id, params)
        if name == "deletewebhook":
            existed = self.webhooks.pop(bot_id, None) is not None
            return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")
        if name == "getwebhookinfo":
            return _ok(self._webhook_info(bot_id))
        if name == "getme":
            return _ok(self._bot_user(bot_id))
        if name == "answercallbackquery":
            if not params.get("callback_query_id"):
                return _error(400, "Bad Request: query_id_invalid")
            return _ok(True)
        return _error(404, "Not Found")

    def _next_message_id(self, bot_id: int, chat_id: int) -> int:
        counter = self._message_ids.setdefault((bot_id, chat_id), itertools.count(1))
        return next(counter)

    def _send_message(self, bot_id: int, params: Json, *, limited: bool) -> tuple[int, Json]:
        raw_chat = params.get("chat_id")
        if raw_chat in (None, ""):
            return _error(400, "Bad Request: chat_id is empty")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            try:
                markup = msgspec.json.decode(markup)
            except msgspec.DecodeError:
                markup = None
            if not isinstance(markup, dict):
                return _error(400, "Bad Request: can't parse reply keyboard markup JSON object")
        elif markup is not None and not isinstance(markup, dict):
            return _error(400, "Bad Request: can't parse reply keyboard markup JSON object")
        try:
            chat_id = int(str(raw_chat))
        except ValueError:
            return _error(400, "Bad Request: chat not found")  # "@username": no channels here

        now = self.clock.monotonic()
        if limited and self.rate_limits:
            wait = max(self._per_bot.wait(bot_id, now), self._per_chat.wait((bot_id, chat_id), now))
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                return _error(
                    429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
                )

        phone = phone_for(chat_id)
        if phone is None:
            return _error(400, "Bad Request: chat not found")
        behaviour = self.behaviour(phone)
        if behaviour.throttle:
            return _error(
                429,
                f"Too Many Requests: retry after {THROTTLE_RETRY_AFTER}",
                retry_after=THROTTLE_RETRY_AFTER,
            )
        member = self.members.get((bot_id, chat_id))
        if member == "kicked" or (member is None and behaviour.blocked):
            return _error(403, "Forbidden: bot was blocked by the user")
        if member is None and not behaviour.reachable:
            return _error(400, "Bad Request: chat not found")
        if behaviour.fail:
            return _error(400, f"Bad Request: {behaviour.fail_reason}")

        if limited and self.rate_limits:
            self._per_bot.take(bot_id, now)
            self._per_chat.take((bot_id, chat_id), now)
        message_id = self._next_message_id(bot_id, chat_id)
        at_ms = self.clock.now_ms()
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
            )
        )
        result: Json = {
            "message_id": message_id,
            "from": self._bot_user(bot_id),
            "chat": self._chat(phone),
            "date": at_ms // 1000,
            "text": text,
        }
        if markup is not None and "inline_keyboard" in markup:
            result["reply_markup"] = markup  # Telegram echoes inline keyboards only
        return _ok(result)

    def _set_webhook(self, bot_id: int, params: Json) -> tuple[int, Json]:
        url = params.get("url")
        if url is None:
            return _error(400, 'Bad Request: parameter "url" is required')
        url = str(url)
        if not url:
            existed = self.webhooks.pop(bot_id, None) is not None
            return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")
        if not url.startswith(("http://", "https://")):
            return _error(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, str):
            try:
                allowed = msgspec.json.decode(allowed)
            except msgspec.DecodeError:
                return _error(400, "Bad Request: can't parse allowed updates")
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
        ):
            return _error(400, "Bad Request: can't parse allowed updates")
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

    @staticmethod
    def _bot_user(bot_id: int) -> Json:
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": f"Cascade Sim Bot {bot_id}",
            "username": f"cascade_sim_{bot_id}_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    @staticmethod
    def _user(phone: str) -> Json:
        return {
            "id": chat_id_for(phone),
            "is_bot": False,
            "first_name": f"User {phone[-4:]}",
            "language_code": "en",
        }

    @staticmethod
    def _chat(phone: str) -> Json:
        return {"id": chat_id_for(phone), "first_name": f"User {phone[-4:]}", "type": "private"}

    def _user_message(self, bot_id: int, phone: str, **content: Any) -> Json:
        chat_id = chat_id_for(phone)
        return {
            "message_id": self._next_message_id(bot_id, chat_id),
            "from": self._user(phone),
            "chat": self._chat(phone),
            "date": self.clock.now_ms() // 1000,
            **content,
        }

    def _member_update(self, bot_id: int, phone: str, old: str, new: str) -> Json:
        bot = self._bot_user(bot_id)
        new_member: Json = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        return {
            "chat": self._chat(phone),
            "from": self._user(phone),
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
        owner = _normal_phone(of) if of else phone
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
            "from": self._user(phone),
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
            "from": self._bot_user(item.bot_id),
            "chat": self._chat(item.phone),
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


# --- HTTP -----------------------------------------------------------------------------------

_JSON = "application/json"


def _json(status: int, body: Any) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), status_code=status, media_type=_JSON)


def _sim(state: State) -> TelegramSimulator:
    simulator: TelegramSimulator = state.simulator
    return simulator


async def _params(request: Request[Any, Any, Any]) -> Json | None:
    """Method parameters from the query string and a JSON, urlencoded or multipart body."""
    params: Json = dict(request.query_params.items())
    content_type = request.content_type[0]
    if content_type == _JSON:
        raw = await request.body()
        if raw.strip():
            try:
                decoded = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                return None
            if not isinstance(decoded, dict):
                return None
            params.update(decoded)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        params.update({key: value for key, value in form.items() if isinstance(value, str)})
    return params


@route("/{segment:str}/{method:str}", http_method=["GET", "POST"], include_in_schema=False)
async def bot_api(
    request: Request[Any, Any, Any], state: State, segment: FromPath[str], method: FromPath[str]
) -> Response[bytes]:
    simulator = _sim(state)
    bot_id = simulator.bot_id(segment)
    if bot_id is None:
        # Like Telegram: a path that is no bot token is unknown; a malformed token is refused.
        if segment.startswith("bot") and ":" in segment:
            return _json(*_error(401, "Unauthorized"))
        return _json(*_error(404, "Not Found"))
    params = await _params(request)
    if params is None:
        return _json(*_error(400, "Bad Request: can't parse JSON object"))
    return _json(*simulator.call(bot_id, method, params))


@put("/_sim/script/{phone:str}", status_code=204)
async def put_script(state: State, phone: FromPath[str], data: JSONBody[Behaviour]) -> None:
    _sim(state).scripts.set(_normal_phone(phone), data)


@delete("/_sim/script", status_code=204)
async def clear_scripts(state: State) -> None:
    _sim(state).reset()


@get("/_sim/received")
async def get_received(state: State) -> Response[bytes]:
    return _json(200, _sim(state).received)


@delete("/_sim/received", status_code=204)
async def clear_received(state: State) -> None:
    _sim(state).received.clear()


@get("/_sim/users/{phone:str}")
async def get_user(state: State, phone: FromPath[str]) -> Response[bytes]:
    phone = _normal_phone(phone)
    behaviour = _sim(state).behaviour(phone)
    return _json(200, {"phone": phone, "chat_id": chat_id_for(phone), "behaviour": behaviour})


@post("/_sim/users/{phone:str}/{action:str}")
async def user_action(
    state: State,
    phone: FromPath[str],
    action: FromPath[str],
    bot: FromQuery[str],
    text: FromQuery[str | None] = None,
    of: FromQuery[str | None] = None,
    reply_to: FromQuery[int | None] = None,
) -> Response[bytes]:
    simulator = _sim(state)
    bot_id = int(bot) if bot.isdigit() else simulator.bot_id(f"bot{bot}")
    if bot_id is None:
        return _json(400, {"error": "bot must be a bot token or a bot id"})
    phone = _normal_phone(phone)
    if action == "start":
        result = await simulator.start(bot_id, phone)
    elif action == "share_contact":
        result = await simulator.share_contact(bot_id, phone, of)
    elif action == "block":
        result = await simulator.block(bot_id, phone)
    elif action == "unblock":
        result = await simulator.unblock(bot_id, phone)
    elif action in ("say", "press"):
        if not text:
            return _json(400, {"error": "text is required"})
        if action == "say":
            result = await simulator.say(bot_id, phone, text, reply_to)
        else:
            result = await simulator.press(bot_id, phone, text)
    else:
        return _json(404, {"error": f"unknown action {action!r}"})
    # An action that produced no update (no such message or button) is the caller's error.
    return _json(200 if "update" in result else 404, result)


@post("/_sim/bots/{bot:str}/revoke", status_code=204)
async def revoke_bot(state: State, bot: FromPath[str]) -> None:
    """The bot's token stops working (as after /revoke with @BotFather)."""
    simulator = _sim(state)
    bot_id = int(bot) if bot.isdigit() else simulator.bot_id(f"bot{bot}")
    if bot_id is not None:
        simulator.revoked.add(bot_id)


def create_app(
    *,
    rate_limits: bool = True,
    clock: Clock | None = None,
    simulator: TelegramSimulator | None = None,
) -> Litestar:
    """The simulator as an ASGI app; its state is `app.state.simulator`."""
    sim = simulator or TelegramSimulator(rate_limits=rate_limits, clock=clock or SystemClock())

    async def close() -> None:
        await sim.aclose()

    return Litestar(
        route_handlers=[
            bot_api,
            put_script,
            clear_scripts,
            get_received,
            clear_received,
            get_user,
            user_action,
            revoke_bot,
        ],
        state=State({"simulator": sim}),
        on_shutdown=[close],
        openapi_config=None,
    )


def main(host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve the simulator standalone (`cascade simulate telegram`)."""
    import uvicorn

    # No access log: Bot API paths carry the bot's token.
    uvicorn.run(create_app(), host=host, port=port, access_log=False, ws="none")


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = [
    "CHAT_ID_OFFSET",
    "Received",
    "TelegramSimulator",
    "Webhook",
    "chat_id_for",
    "create_app",
    "main",
    "phone_for",
]
