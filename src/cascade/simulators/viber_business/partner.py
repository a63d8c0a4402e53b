"""A stand-in for Viber's own Business Messages API for partners (`send_message`).

Vonage carries Viber Business text, image, video and file messages; surveys (lists of
quick replies), carousels and OTP templates go through Viber's own API, which partners
call at `POST https://services.viber.com/vibersrvc/1/send_message`. It answers HTTP 200
always; the outcome is the body's `status` (0 is success, the others are the `SRVC_*`
codes below) with the request's `seq` and, on success, a `message_token` (a 64-bit
integer). Partners are known by their service id and the IP addresses Viber lets in.

The checks are the ones Viber's API documents (v11.3: text 1,000 characters; a list's
title 85 and 2 to 10 options of up to 50; a carousel's 2 to 5 items, titles of 2 to 38, a
primary button label of 10 and a secondary one of 12; template parameters of up to 125
characters without URLs; TTL 30 s to 14 days), and every image URL is fetched (`media.py`).

Statuses are then POSTed, unsigned (Viber's partners are known by IP), to the callback
URL set with `POST /_sim/partner/webhook`: `{"message_token", "message_status",
"message_time"}`, `message_status` 0 delivered, 1 seen, 2 expired; a phone that is not a
Viber user, blocked or without a suitable device is refused at once (status 9, 8, 10).

OTP templates are Viber's predefined ones (`DEFAULT_TEMPLATES`) and those registered with
`PUT /_sim/partner/templates` (`register`), as an operator has templates registered at
Viber; a send naming any other id is refused `SRVC_TEMPLATE_NOT_FOUND` (38).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeGuard

import msgspec

from cascade.simulators.media import Fetched, MediaFetcher, MediaRefused, is_http_url
from cascade.simulators.script import (
    Behaviour,
    Scripts,
    viber_business_receipts,
    viber_business_refusal,
)
from cascade.simulators.webhook_caller import WebhookCaller, WebhookFailed

log = logging.getLogger(__name__)

SEND_PATH: Final = "/vibersrvc/1/send_message"

# status codes (SRVC_*), as Viber's partner documents number them
SUCCESS: Final = 0
INTERNAL_FAILURE: Final = 1
BAD_SERVICE_ID: Final = 2
BAD_DATA: Final = 3
BAD_MESSAGE_TYPE: Final = 5
BAD_PARAMETERS: Final = 6
TIMEOUT: Final = 7
USER_BLOCKED: Final = 8
NOT_VIBER_USER: Final = 9
NO_SUITABLE_DEVICE: Final = 10
UNAUTHORIZED_IP: Final = 11
BAD_LABEL: Final = 18
INVALID_TTL: Final = 20
INVALID_PHONE_NUMBER: Final = 27
TEMPLATE_NOT_FOUND: Final = 38
TEMPLATE_VALIDATION_ERROR: Final = 39
SURVEY_VALIDATION_ERROR: Final = 40
CAROUSEL_VALIDATION_ERROR: Final = 41

# message types this stand-in takes
LIST_TRANSACTIONAL: Final = 801
CAROUSEL: Final = 901
TEMPLATE_SMARTPHONE: Final = 1701
TEMPLATE_ALL_DEVICES: Final = 1702
TYPES: Final = frozenset({LIST_TRANSACTIONAL, CAROUSEL, TEMPLATE_SMARTPHONE, TEMPLATE_ALL_DEVICES})
LABELS: Final = ("transaction", "promotion")

MAX_TEXT: Final = 1000
MAX_LIST_TEXT: Final = 85
MIN_LIST_OPTIONS, MAX_LIST_OPTIONS, MAX_LIST_OPTION = 2, 10, 50
MIN_ITEMS, MAX_ITEMS = 2, 5
MIN_TITLE, MAX_TITLE = 2, 38
MAX_PRIMARY_LABEL, MAX_SECONDARY_LABEL = 10, 12
MAX_TEMPLATE_PARAM: Final = 125
MIN_TTL_S, MAX_TTL_S, DEFAULT_TTL_S = 30, 1_209_600, 1_209_600
IMAGE_TYPES: Final = ("image/jpeg", "image/png", "image/gif")

DELIVERED, SEEN, EXPIRED = 0, 1, 2
RECEIPTS: Final = {"delivered": DELIVERED, "read": SEEN, "expired": EXPIRED}

_DEST = re.compile(r"[1-9][0-9]{6,14}")
_URL_IN = re.compile(r"https?://|www\.", re.IGNORECASE)
_LANG = re.compile(r"[a-z]{2}")
MAX_TEMPLATE_ID: Final = 100


class Template(msgspec.Struct, frozen=True):
    """An OTP template Viber offers: the languages it has, and the parameters it needs."""

    id: str
    languages: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


# Viber's predefined OTP templates, as this stand-in knows them (an operator registers
# others, as at Viber: `PUT /_sim/partner/templates`, `PartnerSimulator.register`).
DEFAULT_TEMPLATES: Final = (
    Template(
        "0aac888f-2ee2-4112-9659-1755a951966a",
        ("en", "uk", "de", "fr", "es", "pl"),
        ("pin",),
    ),
    Template(
        "2c017482-5c0c-4c1e-9b1f-8f0b56a7c1d2",
        ("en", "uk"),
        ("pin", "business_platform_name", "code_validity_time"),
        ("pin_type", "code_reason"),
    ),
)


class PartnerReceived(msgspec.Struct, kw_only=True):
    """One accepted `send_message`."""

    message_token: int
    service_id: int
    seq: int
    dest: str
    phone: str
    type: int
    label: str
    ttl: int
    text: str | None
    survey: tuple[str, ...] | None = None
    carousel: list[dict[str, Any]] | None = None
    template_id: str | None = None
    template_lang: str | None = None
    template_params: dict[str, str] | None = None
    at_ms: int


class PartnerCallback(msgspec.Struct, kw_only=True):
    message_token: int
    message_status: int
    http_status: int | None


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class PartnerSimulator(WebhookCaller):
    """Viber's partner API: the partners' service ids, where their statuses go."""

    service_ids: frozenset[int] = frozenset()  # empty: any
    allowed_ips: frozenset[str] = frozenset()  # empty: any
    scripts: Scripts = field(default_factory=lambda: Scripts("viber_business"))
    templates: dict[str, Template] = field(
        default_factory=lambda: {t.id: t for t in DEFAULT_TEMPLATES}
    )
    media: MediaFetcher = field(default_factory=MediaFetcher)
    received: list[PartnerReceived] = field(default_factory=list)
    callbacks: list[PartnerCallback] = field(default_factory=list)
    callback_url: str | None = None
    callback_attempts: int = 3
    callback_backoff_s: float = 0.2

    async def stop(self) -> None:
        await super().stop()
        await self.media.close()

    def register(self, templates: Sequence[Template]) -> None:
        """Register OTP templates, as an operator has them registered at Viber: each is
        added, or replaces the one with its id. Raises ValueError, registering none, when
        one has no id, no language, a parameter named twice, or no `pin` to carry."""
        for template in templates:
            if not template.id or len(template.id) > MAX_TEMPLATE_ID:
                raise ValueError(f"a template id is 1 to {MAX_TEMPLATE_ID} characters")
            if not template.languages or not all(
                _LANG.fullmatch(lang) for lang in template.languages
            ):
                raise ValueError(f"{template.id}: languages are two-letter codes, at least one")
            names = (*template.required, *template.optional)
            if len(set(names)) != len(names) or not all(names):
                raise ValueError(f"{template.id}: each parameter is named once")
            if "pin" not in template.required:
                raise ValueError(f"{template.id}: an OTP template requires pin")
        self.templates.update((t.id, t) for t in templates)

    async def answer(self, client_ip: str | None, raw: bytes) -> dict[str, Any]:
        """The body `send_message` answers for `raw` (always with HTTP 200)."""
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return {"status": BAD_DATA, "status_message": "the body is not JSON"}
        seq = body.get("seq") if isinstance(body, dict) else None
        if self.allowed_ips and client_ip not in self.allowed_ips:
            return _status(UNAUTHORIZED_IP, seq, "the request comes from no whitelisted IP")
        try:
            message = await self.accept(body)
        except Refused as refused:
            return _status(refused.status, seq, refused.reason)
        behaviour = self.scripts.get(message.phone)
        verdict = _verdict(behaviour)
        if verdict is not None:
            return _status(verdict, seq, "the recipient cannot get this message")
        self.received.append(message)
        self.spawn(self._statuses(message, behaviour))
        return {"status": SUCCESS, "seq": message.seq, "message_token": message.message_token}

    async def accept(self, body: object) -> PartnerReceived:
        if not isinstance(body, dict):
            raise Refused(BAD_DATA, "the body is not a JSON object")
        service_id, seq, dest = body.get("service_id"), body.get("seq"), body.get("dest")
        if not _integer(service_id) or (self.service_ids and service_id not in self.service_ids):
            raise Refused(BAD_SERVICE_ID, "unknown service_id")
        if not _integer(seq):
            raise Refused(BAD_PARAMETERS, "seq is a required integer")
        if not isinstance(dest, str) or not _DEST.fullmatch(dest):
            raise Refused(INVALID_PHONE_NUMBER, "dest is a phone number without +")
        kind = body.get("type")
        if not _integer(kind) or kind not in TYPES:
            raise Refused(BAD_MESSAGE_TYPE, "unsupported message type")
        label = body.get("label")
        if label not in LABELS:
            raise Refused(BAD_LABEL, "label is transaction or promotion")
        ttl = body.get("ttl", DEFAULT_TTL_S)
        if not _integer(ttl) or not MIN_TTL_S <= ttl <= MAX_TTL_S:
            raise Refused(INVALID_TTL, f"ttl is {MIN_TTL_S} to {MAX_TTL_S} seconds")
        message = PartnerReceived(
            message_token=random.getrandbits(63),
            service_id=service_id,
            seq=seq,
            dest=dest,
            phone="+" + dest,
            type=kind,
            label=str(label),
            ttl=ttl,
            text=None,
            at_ms=time.time_ns() // 1_000_000,
        )
        if kind in (TEMPLATE_SMARTPHONE, TEMPLATE_ALL_DEVICES):
            self._template(body, message)
            return message
        content = body.get("message")
        if not isinstance(content, dict):
            raise Refused(BAD_PARAMETERS, "message is required")
        if not isinstance(content.get("#tracking_data"), str):
            raise Refused(BAD_PARAMETERS, "#tracking_data is required for this type")
        text = content.get("#txt")
        limit = MAX_LIST_TEXT if kind == LIST_TRANSACTIONAL else MAX_TEXT
        if not isinstance(text, str) or not text or len(text) > limit:
            raise Refused(BAD_DATA, f"#txt is 1 to {limit} characters")
        message.text = text
        if kind == LIST_TRANSACTIONAL:
            message.survey = _survey(body.get("survey"))
        else:
            message.carousel = await self._carousel(body.get("carousel"))
        return message

    def _template(self, body: dict[str, Any], message: PartnerReceived) -> None:
        template_id, lang = body.get("templateId"), body.get("templateLang")
        template = self.templates.get(template_id) if isinstance(template_id, str) else None
        if template is None:
            raise Refused(TEMPLATE_NOT_FOUND, "no such template")
        if lang is not None and lang not in template.languages:
            raise Refused(TEMPLATE_VALIDATION_ERROR, "the template has no such language")
        params = body.get("templateParams")
        if not isinstance(params, dict):
            raise Refused(TEMPLATE_VALIDATION_ERROR, "templateParams is an object")
        if not params.get("pin"):
            # Viber answers a template without its pin with SRVC_TIMEOUT
            raise Refused(TIMEOUT, "the OTP template needs a pin")
        known = set(template.required) | set(template.optional)
        for name, value in params.items():
            if name not in known:
                raise Refused(TEMPLATE_VALIDATION_ERROR, f"the template has no {name}")
            if not isinstance(value, str) or not value or len(value) > MAX_TEMPLATE_PARAM:
                raise Refused(TEMPLATE_VALIDATION_ERROR, f"{name} is 1 to 125 characters")
            if _URL_IN.search(value):
                raise Refused(TEMPLATE_VALIDATION_ERROR, f"{name} holds a URL")
        missing = [name for name in template.required if name not in params]
        if missing:
            raise Refused(TEMPLATE_VALIDATION_ERROR, f"the template needs {', '.join(missing)}")
        message.template_id = template.id
        message.template_lang = lang
        message.template_params = dict(params)

    async def _carousel(self, carousel: object) -> list[dict[str, Any]]:
        items = carousel.get("items") if isinstance(carousel, dict) else None
        if not isinstance(items, list) or not MIN_ITEMS <= len(items) <= MAX_ITEMS:
            raise Refused(CAROUSEL_VALIDATION_ERROR, f"{MIN_ITEMS} to {MAX_ITEMS} items")
        for item in items:
            if not isinstance(item, dict):
                raise Refused(CAROUSEL_VALIDATION_ERROR, "an item is an object")
            title = item.get("title")
            if not isinstance(title, str) or not MIN_TITLE <= len(title) <= MAX_TITLE:
                raise Refused(CAROUSEL_VALIDATION_ERROR, f"a title is {MIN_TITLE} to {MAX_TITLE}")
            _button(item.get("primaryButton"), MAX_PRIMARY_LABEL, "primaryButton")
            if item.get("secondaryButton") is not None:
                _button(item["secondaryButton"], MAX_SECONDARY_LABEL, "secondaryButton")
            image = item.get("imageUrl")
            found = await self.media.check(image) if isinstance(image, str) else None
            if not isinstance(found, Fetched) or found.content_type not in IMAGE_TYPES:
                why = found.reason if isinstance(found, MediaRefused) else "not an image"
                raise Refused(CAROUSEL_VALIDATION_ERROR, f"imageUrl: {why}")
        return items

    async def _statuses(self, message: PartnerReceived, behaviour: Behaviour) -> None:
        async def receipt(name: str) -> None:
            await self._post(message, RECEIPTS[name])

        await viber_business_receipts(behaviour, message.ttl, receipt)

    async def _post(self, message: PartnerReceived, status: int) -> None:
        if self.callback_url is None:
            return
        body = msgspec.json.encode(
            {
                "message_token": message.message_token,
                "message_status": status,
                "message_time": time.time_ns() // 1_000_000,
            }
        )
        answer: int | None = None
        for attempt in range(self.callback_attempts):
            try:
                answer = (
                    await self.post(self.callback_url, body, {"Content-Type": "application/json"})
                ).status_code
            except WebhookFailed as exc:
                log.info("viber partner simulator: callback failed: %s", exc)
                answer = None
            if answer is not None and 200 <= answer < 300:
                break
            await asyncio.sleep(self.callback_backoff_s * 2**attempt)
        self.callbacks.append(
            PartnerCallback(
                message_token=message.message_token, message_status=status, http_status=answer
            )
        )


def _integer(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _status(status: int, seq: object, message: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"status": status, "status_message": message}
    if _integer(seq):
        answer["seq"] = seq
    return answer


def _survey(survey: object) -> tuple[str, ...]:
    options = survey.get("options") if isinstance(survey, dict) else None
    if not isinstance(options, list) or not MIN_LIST_OPTIONS <= len(options) <= MAX_LIST_OPTIONS:
        raise Refused(SURVEY_VALIDATION_ERROR, f"{MIN_LIST_OPTIONS} to {MAX_LIST_OPTIONS} options")
    for option in options:
        if not isinstance(option, str) or not 1 <= len(option) <= MAX_LIST_OPTION:
            raise Refused(SURVEY_VALIDATION_ERROR, f"an option is 1 to {MAX_LIST_OPTION}")
    return tuple(options)


def _button(button: object, max_label: int, name: str) -> None:
    if not isinstance(button, dict):
        raise Refused(CAROUSEL_VALIDATION_ERROR, f"{name} is required")
    label, url = button.get("label"), button.get("actionUrl")
    if not isinstance(label, str) or not 1 <= len(label) <= max_label:
        raise Refused(CAROUSEL_VALIDATION_ERROR, f"{name}.label is 1 to {max_label}")
    if not is_http_url(url):
        raise Refused(CAROUSEL_VALIDATION_ERROR, f"{name}.actionUrl is an http(s) URL")


def _verdict(behaviour: Behaviour) -> int | None:
    """Viber's synchronous refusal for a phone that cannot get business messages."""
    return viber_business_refusal(
        behaviour,
        not_user=NOT_VIBER_USER,
        blocked=USER_BLOCKED,
        no_device=NO_SUITABLE_DEVICE,
        unknown=INTERNAL_FAILURE,
    )
