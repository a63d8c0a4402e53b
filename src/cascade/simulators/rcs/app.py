"""A stand-in for Google RCS Business Messaging (`rcsbusinessmessaging.googleapis.com/v1`)
and for the OAuth token endpoint in front of it, on a real socket.

The token endpoint (`POST /token`) takes the JWT bearer grant google-auth makes for a
service account: the assertion must be a well-formed RS256 JWT with the RBM scope, not
expired; once a service account is registered (`RcsSimulator.add_service_account`, or
`service_accounts=` in `create_app`), its issuer must be registered and its signature must
verify with that account's public key. It answers with an access token that the API then
requires as `Authorization: Bearer …` (401 UNAUTHENTICATED otherwise).

The API answers as RBM does, per the phone's `Behaviour` (`Scripts("rcs")`):

- `GET /v1/phones/{e164}/capabilities?requestId=&agentId=`: 200 with features when the
  phone is `reachable`, else 404.
- `POST /v1/phones/{e164}/agentMessages?messageId=&agentId=`: 200 with the AgentMessage;
  404 not reachable; 409 ALREADY_EXISTS for a `messageId` seen before; 429 `throttle`;
  400 INVALID_ARGUMENT for a body RBM would refuse (`validation.py`: text, standalone
  cards and carousels, media heights and widths, suggested replies and actions, and their
  limits), or naming a file (card media, thumbnail) that cannot be fetched with a type
  RBM takes: every file URL is fetched before the message is taken (`media.py`).
- `DELETE /v1/phones/{e164}/agentMessages/{messageId}?agentId=`: 200 withdrawn; 404 when
  it was delivered already (or is unknown).

An accepted message is DELIVERED after `deliver_after_ms` (never when None) and READ after
`read_after_ms`; one still undelivered at its `expireTime` is withdrawn and reported
TTL_EXPIRATION_REVOKED. Events go to the agent webhook as Google sends them: a Pub/Sub
push whose `message.data` is the base64 event, signed `X-Goog-Signature` (base64
HMAC-SHA512 of the decoded data, keyed by the webhook's client token), retried until 200.

Test and demo controls live under `/_sim/` (never on the real service):

| Method | Path | What |
|---|---|---|
| POST | `/_sim/webhook` | `{"url", "clientToken"}`: the setup handshake, then events go there |
| PUT | `/_sim/script/{phone}` | set the phone's `Behaviour` (JSON) |
| DELETE | `/_sim/script` | forget every script |
| GET, DELETE | `/_sim/received` | accepted messages with their state (`?phone=`) / forget them |
| GET | `/_sim/calls` | every API call: method, path, HTTP status |
| GET | `/_sim/events` | every event posted, with the webhook's HTTP answer |
| POST | `/_sim/users/{phone}/reply?text=…` | the user answers the newest message (below) |

A reply whose `text` is one of the newest message's suggested replies (its visible text or
the option its postback carries) is sent as the tap on that suggestion; any other text as
a typed message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from litestar import Litestar, Request, Response, delete, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, FromQuery, JSONBody

from cascade.simulators.control import control_routes, e164
from cascade.simulators.media import MediaFetcher, MediaRefused
from cascade.simulators.rcs.timestamps import format_ms, now_ms
from cascade.simulators.rcs.validation import (
    bad_phone,
    error,
    expiry,
    invalid_message,
    is_uuid,
    media_urls,
)
from cascade.simulators.script import Behaviour, Scripts
from cascade.simulators.webhook_caller import WebhookCaller, WebhookFailed

log = logging.getLogger(__name__)

SCOPE: Final = "https://www.googleapis.com/auth/rcsbusinessmessaging"
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always names Google's token endpoint as the audience, whatever token_uri is
GOOGLE_TOKEN_URI: Final = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
TOKEN_LIFETIME_S: Final = 3600
CLOCK_SKEW_S: Final = 60

FEATURES: Final = (
    "RICHCARD_STANDALONE",
    "RICHCARD_CAROUSEL",
    "ACTION_CREATE_CALENDAR_EVENT",
    "ACTION_DIAL",
    "ACTION_OPEN_URL",
    "ACTION_SHARE_LOCATION",
    "ACTION_VIEW_LOCATION",
)


def sign(data: bytes, client_token: str) -> str:
    """Google's `X-Goog-Signature`: base64 HMAC-SHA512 of the decoded data, by client token."""
    return base64.b64encode(hmac.new(client_token.encode(), data, hashlib.sha512).digest()).decode()


def new_service_account(
    client_email: str = "cascade@rbm-sim.iam.gserviceaccount.com", token_uri: str = ""
) -> tuple[dict[str, str], str]:
    """A fresh service-account key as Google issues it (JSON, parsed) and its public key
    (PEM), to register with the simulator: for the demo and tests."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    info = {
        "type": "service_account",
        "project_id": "rbm-sim",
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**20)),
        "token_uri": token_uri or GOOGLE_TOKEN_URI,
    }
    return info, public_pem


# --- state ------------------------------------------------------------------------------------


class Received(msgspec.Struct, kw_only=True):
    """An accepted agent message, as the simulator's user sees it."""

    message_id: str
    agent_id: str
    phone: str
    body: dict[str, Any]
    expire_at_ms: int | None
    at_ms: int
    state: str = "pending"  # delivered, read, revoked, expired


class Call(msgspec.Struct):
    method: str
    path: str
    status: int


class EventSent(msgspec.Struct, kw_only=True):
    kind: str  # DELIVERED, READ, TTL_EXPIRATION_REVOKED, text, suggestionResponse
    message_id: str | None
    phone: str
    http_status: int | None
    attempts: int
    at_ms: int


@dataclass
class Webhook:
    url: str
    client_token: str


@dataclass
class RcsSimulator(WebhookCaller):
    """The simulator's state; the app (`create_app`) serves it."""

    scripts: Scripts = field(default_factory=lambda: Scripts("rcs"))
    agents: set[str] = field(default_factory=set)  # empty: any agent id is accepted
    accounts: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    tokens: dict[str, tuple[float, str]] = field(default_factory=dict)  # token -> (until, iss)
    token_lifetime_s: int = TOKEN_LIFETIME_S
    webhook: Webhook | None = None
    messages: dict[tuple[str, str], Received] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    events: list[EventSent] = field(default_factory=list)
    callback_attempts: int = 5
    callback_backoff_s: float = 0.2
    media: MediaFetcher = field(default_factory=MediaFetcher)

    async def stop(self) -> None:
        await super().stop()
        await self.media.close()

    def add_service_account(self, client_email: str, public_key_pem: str) -> None:
        key = serialization.load_pem_public_key(public_key_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("a service account's key is RSA")
        self.accounts[client_email] = key

    def reset(self) -> None:
        self.scripts.clear()

    # --- the token endpoint ---------------------------------------------------------------

    def grant(self, form: Mapping[str, str], audience: str) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != JWT_BEARER:
            return 400, {"error": "unsupported_grant_type"}
        claims = self._check_assertion(form.get("assertion", ""), audience)
        if isinstance(claims, str):
            return 400, {"error": "invalid_grant", "error_description": claims}
        now = time.monotonic()
        for stale in [t for t, (until, _) in self.tokens.items() if until <= now]:
            del self.tokens[stale]
        token = "ya29.sim-" + secrets.token_urlsafe(32)
        self.tokens[token] = (now + self.token_lifetime_s, str(claims["iss"]))
        return 200, {
            "access_token": token,
            "expires_in": self.token_lifetime_s,
            "token_type": "Bearer",
        }

    def _check_assertion(self, assertion: str, audience: str) -> dict[str, Any] | str:
        parts = assertion.split(".")
        if len(parts) != 3:
            return "not a JWT"
        try:
            header = msgspec.json.decode(_b64url(parts[0]))
            claims = msgspec.json.decode(_b64url(parts[1]))
            sig = _b64url(parts[2])
        except (msgspec.DecodeError, binascii.Error, ValueError):
            return "not a JWT"
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return "not a JWT"
        if header.get("alg") != "RS256":
            return "not signed RS256"
        iss, scope, aud = claims.get("iss"), claims.get("scope"), claims.get("aud")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iss, str) or not iss:
            return "no issuer"
        if not isinstance(scope, str) or SCOPE not in scope.split():
            return "not the RBM scope"
        if aud not in (GOOGLE_TOKEN_URI, audience):
            return "wrong audience"
        if not isinstance(iat, int) or not isinstance(exp, int):
            return "no iat/exp"
        now = time.time()
        if exp <= now or iat > now + CLOCK_SKEW_S or exp - iat > 3600:
            return "expired or not yet valid"
        if self.accounts:
            key = self.accounts.get(iss)
            if key is None:
                return "unknown service account"
            try:
                key.verify(
                    sig, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
                )
            except InvalidSignature:
                return "bad signature"
        return claims

    def authorised(self, request: Request[Any, Any, Any]) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        found = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return found is not None and time.monotonic() < found[0]

    # --- webhook pushes -------------------------------------------------------------------

    async def handshake(self, url: str, client_token: str) -> tuple[bool, int | None]:
        """Google's webhook check: POST the client token and a secret; the webhook must
        answer 200 with the secret as its body."""
        secret = secrets.token_hex(16)
        body = msgspec.json.encode({"clientToken": client_token, "secret": secret})
        try:
            headers = {"Content-Type": "application/json"}
            response = await self.post(url, body, headers, queued=False)
        except WebhookFailed as exc:
            log.info("rcs simulator: webhook check failed: %s", exc)
            return False, None
        verified = response.status_code == 200 and response.text.strip() == secret
        if verified:
            self.webhook = Webhook(url, client_token)
        return verified, response.status_code

    async def push(self, event: dict[str, Any], kind: str, phone: str) -> int | None:
        """POST one event to the webhook as a signed Pub/Sub push, retrying until 200."""
        webhook = self.webhook
        message_id = event.get("messageId")
        if webhook is None:
            self._record(kind, message_id, phone, None, 0)
            return None
        data = msgspec.json.encode(event)
        envelope = {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": str(secrets.randbelow(10**16)),
                "publishTime": format_ms(now_ms()),
                "attributes": {},
            },
            "subscription": f"projects/rbm-{event.get('agentId', 'agent')}/subscriptions/rbm",
        }
        headers = {
            "Content-Type": "application/json",
            "X-Goog-Signature": sign(data, webhook.client_token),
        }
        status: int | None = None
        tries = 0
        for attempt in range(self.callback_attempts):
            tries = attempt + 1
            try:
                response = await self.post(webhook.url, msgspec.json.encode(envelope), headers)
                status = response.status_code
            except WebhookFailed as exc:
                log.info("rcs simulator: push failed: %s", exc)
                status = None
            if status == 200 or tries == self.callback_attempts:
                break
            await asyncio.sleep(self.callback_backoff_s * 2**attempt)
        self._record(kind, message_id, phone, status, tries)
        return status

    def _record(
        self, kind: str, message_id: str | None, phone: str, status: int | None, tries: int
    ) -> None:
        self.events.append(
            EventSent(
                kind=kind,
                message_id=message_id,
                phone=phone,
                http_status=status,
                attempts=tries,
                at_ms=now_ms(),
            )
        )

    def _user_event(self, message: Received, event_type: str) -> dict[str, Any]:
        return {
            "senderPhoneNumber": message.phone,
            "eventType": event_type,
            "eventId": "sim-" + secrets.token_hex(8),
            "messageId": message.message_id,
            "sendTime": format_ms(now_ms()),
            "agentId": message.agent_id,
        }

    async def lifecycle(self, message: Received, behaviour: Behaviour) -> None:
        """Deliver, then read, per `behaviour`; withdraw at expireTime if still pending."""
        deliver_ms = behaviour.deliver_after_ms
        expire_in = None if message.expire_at_ms is None else message.expire_at_ms - now_ms()
        if deliver_ms is None or (expire_in is not None and expire_in < deliver_ms):
            if expire_in is None:
                return  # the phone never comes online
            await asyncio.sleep(max(expire_in, 0) / 1000)
            if message.state == "pending":
                message.state = "expired"
                event = self._user_event(message, "TTL_EXPIRATION_REVOKED")
                await self.push(event, "TTL_EXPIRATION_REVOKED", message.phone)
            return
        await asyncio.sleep(deliver_ms / 1000)
        if message.state != "pending":
            return  # revoked meanwhile
        message.state = "delivered"
        await self.push(self._user_event(message, "DELIVERED"), "DELIVERED", message.phone)
        if behaviour.read_after_ms is not None:
            await asyncio.sleep(max(behaviour.read_after_ms - deliver_ms, 0) / 1000)
            message.state = "read"
            await self.push(self._user_event(message, "READ"), "READ", message.phone)

    # --- the API ----------------------------------------------------------------------------

    def capabilities(self, phone: str) -> tuple[int, dict[str, Any]]:
        behaviour = self.scripts.get(phone)
        if behaviour.throttle:
            return error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")
        if not behaviour.reachable or behaviour.blocked:
            return error(404, "NOT_FOUND", "Requested entity was not found.")
        return 200, {"features": list(FEATURES)}

    async def create(
        self, phone: str, message_id: str | None, agent_id: str, body: object
    ) -> tuple[int, dict[str, Any]]:
        if not message_id or not is_uuid(message_id):
            return error(400, "INVALID_ARGUMENT", "messageId must be a UUID")
        problem = invalid_message(body)
        if problem is not None:
            return error(400, "INVALID_ARGUMENT", problem)
        assert isinstance(body, dict)
        problem = await self._unreachable_media(body)
        if problem is not None:
            return error(400, "INVALID_ARGUMENT", problem)
        expire_at = expiry(body)
        if isinstance(expire_at, str):
            return error(400, "INVALID_ARGUMENT", expire_at)
        behaviour = self.scripts.get(phone)
        if behaviour.throttle:
            return error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")
        if not behaviour.reachable or behaviour.blocked:
            return error(404, "NOT_FOUND", "Requested entity was not found.")
        key = (agent_id, message_id)
        if key in self.messages:
            return error(409, "ALREADY_EXISTS", "Requested entity already exists")
        now = now_ms()
        message = Received(
            message_id=message_id,
            agent_id=agent_id,
            phone=phone,
            body=body,
            expire_at_ms=expire_at,
            at_ms=now,
        )
        self.messages[key] = message
        self.received.append(message)
        self.spawn(self.lifecycle(message, behaviour))
        answer: dict[str, Any] = {
            "name": f"phones/{phone}/agentMessages/{message_id}",
            "sendTime": format_ms(now),
            "contentMessage": body["contentMessage"],
        }
        if expire_at is not None:
            answer["expireTime"] = format_ms(expire_at)
        if "messageTrafficType" in body:
            answer["messageTrafficType"] = body["messageTrafficType"]
        return 200, answer

    async def _unreachable_media(self, body: dict[str, Any]) -> str | None:
        """Fetch every file the message names, as RBM does before it takes the message:
        each must answer 200 with a type RBM takes there."""
        for where, url, types in media_urls(body):
            found = await self.media.check(url)
            if isinstance(found, MediaRefused):
                return f"{where}: {found.reason}"
            if types and found.content_type not in types:
                return f"{where}: {found.content_type or 'no type'} is not a type RBM takes here"
        return None

    def revoke(self, phone: str, message_id: str, agent_id: str) -> tuple[int, dict[str, Any]]:
        message = self.messages.get((agent_id, message_id))
        if message is None or message.phone != phone or message.state != "pending":
            return error(404, "NOT_FOUND", "Requested entity was not found.")
        message.state = "revoked"
        return 200, {}

    async def reply(self, phone: str, text: str) -> tuple[str, int | None]:
        """The user answers the newest message they got: a suggested reply they tap, when
        `text` is one, else typed text."""
        last = next((m for m in reversed(self.received) if m.phone == phone), None)
        agent_id = last.agent_id if last is not None else next(iter(self.agents), "agent")
        event: dict[str, Any] = {
            "senderPhoneNumber": phone,
            "messageId": "sim-" + secrets.token_hex(8),
            "sendTime": format_ms(now_ms()),
            "agentId": agent_id,
        }
        suggestion = _find_reply(last.body if last is not None else {}, text)
        if suggestion is not None:
            event["suggestionResponse"] = {
                "postbackData": suggestion.get("postbackData", ""),
                "text": suggestion.get("text", text),
                "type": "REPLY",
            }
            kind = "suggestionResponse"
        else:
            event["text"] = text
            kind = "text"
        return kind, await self.push(event, kind, phone)


def _b64url(part: str) -> bytes:
    """A JWT part: base64url without its padding."""
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _find_reply(body: dict[str, Any], text: str) -> dict[str, Any] | None:
    content = body.get("contentMessage")
    suggestions = content.get("suggestions") if isinstance(content, dict) else None
    for suggestion in suggestions or []:
        reply = suggestion.get("reply") if isinstance(suggestion, dict) else None
        if isinstance(reply, dict) and text in (
            reply.get("text"),
            str(reply.get("postbackData", "")).split("|", 2)[-1],
        ):
            return reply
    return None


# --- the app ----------------------------------------------------------------------------------


class WebhookSetup(msgspec.Struct, rename="camel"):
    url: str
    client_token: str


def create_app(
    simulator: RcsSimulator | None = None,
    *,
    agents: tuple[str, ...] = (),
    service_accounts: Mapping[str, str] | None = None,
) -> Litestar:
    """The simulator as an ASGI app; `service_accounts` maps e-mails to public-key PEMs."""
    sim = simulator if simulator is not None else RcsSimulator()
    sim.agents.update(agents)
    for email, pem in (service_accounts or {}).items():
        sim.add_service_account(email, pem)

    def answer(request: Request[Any, Any, Any], result: tuple[int, Any]) -> Response[Any]:
        code, body = result
        sim.calls.append(Call(request.method, request.url.path, code))
        return Response(body, status_code=code)

    def gate(request: Request[Any, Any, Any], agent_id: str | None) -> tuple[int, Any] | None:
        if not sim.authorised(request):
            return error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if not agent_id:
            return error(400, "INVALID_ARGUMENT", "agentId is required")
        if sim.agents and agent_id not in sim.agents:
            return error(403, "PERMISSION_DENIED", "The caller does not have permission")
        return None

    @post("/token", status_code=200)
    async def token(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        code, body = sim.grant(fields, str(request.url))
        return Response(body, status_code=code)

    @get("/v1/phones/{phone:str}/capabilities")
    async def capabilities(request: Request[Any, Any, Any], phone: FromPath[str]) -> Response[Any]:
        agent_id = request.query_params.get("agentId")
        refused = gate(request, agent_id) or bad_phone(phone)
        if refused is None and not request.query_params.get("requestId"):
            refused = error(400, "INVALID_ARGUMENT", "requestId is required")
        return answer(request, refused or sim.capabilities(phone))

    @post("/v1/phones/{phone:str}/agentMessages", status_code=200)
    async def create_message(
        request: Request[Any, Any, Any], phone: FromPath[str]
    ) -> Response[Any]:
        agent_id = request.query_params.get("agentId")
        message_id = request.query_params.get("messageId")
        refused = gate(request, agent_id) or bad_phone(phone)
        if refused is not None:
            return answer(request, refused)
        try:
            body: object = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return answer(request, error(400, "INVALID_ARGUMENT", "the body is not JSON"))
        return answer(request, await sim.create(phone, message_id, str(agent_id), body))

    @delete("/v1/phones/{phone:str}/agentMessages/{message_id:str}", status_code=200)
    async def revoke_message(
        request: Request[Any, Any, Any],
        phone: FromPath[str],
        message_id: FromPath[str],
    ) -> Response[Any]:
        agent_id = request.query_params.get("agentId")
        refused = gate(request, agent_id) or bad_phone(phone)
        return answer(request, refused or sim.revoke(phone, message_id, str(agent_id)))

    @post("/_sim/webhook", status_code=200)
    async def set_webhook(data: JSONBody[WebhookSetup]) -> dict[str, Any]:
        if not data.url.startswith(("http://", "https://")):
            raise HTTPException(status_code=400, detail="url is http(s)")
        verified, status = await sim.handshake(data.url, data.client_token)
        return {"verified": verified, "status": status}

    @post("/_sim/users/{phone:str}/reply", status_code=200)
    async def user_reply(phone: FromPath[str], text: FromQuery[str] = "") -> dict[str, Any]:
        number = e164(phone)
        if not text:
            raise HTTPException(status_code=400, detail="reply needs ?text=")
        if sim.webhook is None:
            raise HTTPException(status_code=409, detail="no webhook is set up")
        kind, status = await sim.reply(number, text)
        return {"kind": kind, "webhook_status": status}

    return Litestar(
        logging_config=None,  # the process's own logging stands (`cascade up`: text or JSON)
        route_handlers=[
            token,
            capabilities,
            create_message,
            revoke_message,
            set_webhook,
            *control_routes(
                set_script=sim.scripts.set,
                reset=sim.reset,
                received=sim.received,
                logs={"calls": sim.calls, "events": sim.events},
            ),
            user_reply,
        ],
        on_startup=[sim.start],
        on_shutdown=[sim.stop],
        openapi_config=None,
    )
