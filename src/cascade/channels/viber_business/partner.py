"""Viber's own Business Messages API for partners: what Vonage cannot carry.

Vonage's Messages API carries Viber Business text, image, video and file messages; it has
no survey, no carousel and no OTP template. Those go to Viber itself, as its partners
send them: `POST {partner_url}/vibersrvc/1/send_message` (production
`https://services.viber.com`), one JSON body per message naming the partner's numeric
`service_id`, the phone (`dest`, digits without `+`), our `seq` (a number Viber echoes),
the `label` (transaction / promotion), `ttl` and the message `type`:

- a survey (its question and 2 to 10 options): type 801, a transactional list,
  `message: {"#txt", "#tracking_data"}` and `survey: {"options": [...]}`;
- a carousel (2 to 5 cards): type 901, `message: {"#txt", "#tracking_data"}` and
  `carousel: {"items": [{title, imageUrl, primaryButton: {label, actionUrl},
  secondaryButton?}]}`;
- an OTP template: type 1702 (all devices), `templateId`, `templateLang`,
  `templateParams`.

Viber answers HTTP 200 with `{"status", "seq", "message_token"}`: status 0 is accepted
(the token is the message's id in its status callbacks), the others are its `SRVC_*`
codes, which `outcome_for_status` reads. Partners are known by the IP addresses Viber
lets in, so no credential travels. The status callbacks (`{"message_token",
"message_status", "message_time"}`: 0 delivered, 1 seen, 2 expired) come to the same
webhook as Vonage's (`webhook.py`), unsigned: a callback is believed only for a token we
were given, which only Viber and we know (a 63-bit random number).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Final, Literal

import httpx
import msgspec

from cascade.channels.http import transport_outcome
from cascade.domain.content import Button, Card, Content
from cascade.domain.events import DeliveryReport, Event
from cascade.domain.sending import (
    Failed,
    InDoubt,
    Misconfigured,
    Outcome,
    Retry,
    Sent,
    Unreachable,
)

log = logging.getLogger(__name__)

DEFAULT_PARTNER_URL: Final = "https://services.viber.com"
SEND_PATH: Final = "/vibersrvc/1/send_message"

LIST_TRANSACTIONAL: Final = 801
CAROUSEL: Final = 901
TEMPLATE_ALL_DEVICES: Final = 1702

MAX_LIST_TEXT: Final = 85
MAX_LIST_OPTION: Final = 50
MAX_LIST_OPTIONS: Final = 10
MIN_ITEMS, MAX_ITEMS = 2, 5
MIN_TITLE, MAX_TITLE = 2, 38
MAX_PRIMARY_LABEL, MAX_SECONDARY_LABEL = 10, 12
MAX_TTL_S: Final = 1_209_600

# Viber's SRVC_ status codes and what each means for the step
_UNREACHABLE: Final = {
    8: Unreachable("BLOCKED", blocked=True),
    9: Unreachable("NOT_VIBER_USER"),
    10: Unreachable("NO_SUITABLE_DEVICE"),
}
_MISCONFIGURED: Final = {
    2: "BAD_SERVICE_ID",
    11: "UNAUTHORIZED_IP",
    13: "NOT_PERMITTED",
    14: "BILLING_FAILURE",
    43: "SERVICE_BLOCKED",
    401: "UNAUTHORIZED_IP",
}
_FAILED: Final = {
    3: "BAD_DATA",
    5: "BAD_MESSAGE_TYPE",
    6: "BAD_PARAMETERS",
    18: "BAD_LABEL",
    20: "INVALID_TTL",
    27: "INVALID_NUMBER",
    38: "TEMPLATE_NOT_FOUND",
    39: "TEMPLATE_VALIDATION_ERROR",
    40: "SURVEY_VALIDATION_ERROR",
    41: "CAROUSEL_VALIDATION_ERROR",
}
_RETRY: Final = {1: "INTERNAL_FAILURE", 7: "TIMEOUT"}

_RECEIPTS: Final[dict[int, Literal["delivered", "read", "failed"]]] = {
    0: "delivered",
    1: "read",
    2: "failed",
}


# --- the body ----------------------------------------------------------------------------------


class _Text(msgspec.Struct, rename={"txt": "#txt", "tracking_data": "#tracking_data"}):
    txt: str
    tracking_data: str


class _Survey(msgspec.Struct):
    options: list[str]


class _ItemButton(msgspec.Struct, rename="camel"):
    label: str
    action_url: str


class _Item(msgspec.Struct, rename="camel", omit_defaults=True):
    title: str
    image_url: str
    primary_button: _ItemButton
    secondary_button: _ItemButton | None = None


class _Carousel(msgspec.Struct):
    items: list[_Item]


class _SendMessage(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel"):
    service_id: int = msgspec.field(name="service_id")
    dest: str
    seq: int
    label: str
    ttl: int
    type: int
    message: _Text | None = None
    survey: _Survey | None = None
    carousel: _Carousel | None = None
    template_id: str | None = None
    template_lang: str | None = None
    template_params: dict[str, str] | None = None


class _Answer(msgspec.Struct):
    status: int
    message_token: int | str | None = None


class _Receipt(msgspec.Struct):
    message_token: int | str
    message_status: int
    message_time: int | None = None


def carried_here(content: Content) -> bool:
    """Whether `content` goes through Viber's own API (a survey, a carousel, a template)."""
    return bool(content.survey or content.carousel or content.template is not None)


def seq_for(attempt_id: str) -> int:
    """The attempt's `seq`: a number from its id, the same on every try of the attempt."""
    return int.from_bytes(hashlib.sha256(attempt_id.encode()).digest()[:6], "big")


def _item_button(button: Button, max_label: int) -> _ItemButton | str:
    url = button.action.url
    if not url:
        return "CAROUSEL_BUTTON_WITHOUT_URL"
    if not 1 <= len(button.text) <= max_label:
        return "CAROUSEL_BUTTON_LABEL"
    return _ItemButton(button.text, url)


def _item(card: Card) -> _Item | str:
    if card.title is None or not MIN_TITLE <= len(card.title) <= MAX_TITLE:
        return "CAROUSEL_TITLE"
    if card.media is None or not card.buttons or len(card.buttons) > 2:
        return "CAROUSEL_ITEM"
    primary = _item_button(card.buttons[0], MAX_PRIMARY_LABEL)
    if isinstance(primary, str):
        return primary
    secondary: _ItemButton | None = None
    if len(card.buttons) == 2:
        second = _item_button(card.buttons[1], MAX_SECONDARY_LABEL)
        if isinstance(second, str):
            return second
        secondary = second
    return _Item(card.title, card.media.url, primary, secondary)


def build_send_message(
    content: Content,
    *,
    service_id: int,
    dest: str,
    attempt_id: str,
    label: str,
    ttl: int,
) -> _SendMessage | Failed:
    """The `send_message` body for a survey, a carousel or a template; `Failed` with the
    limit it breaks when Viber would refuse it (nothing is sent then)."""
    base = _SendMessage(
        service_id=service_id,
        dest=dest,
        seq=seq_for(attempt_id),
        label=label,
        ttl=min(ttl, MAX_TTL_S),
        type=0,
    )
    if content.template is not None:
        template = content.template
        if not template.params.get("pin"):
            return Failed("TEMPLATE_WITHOUT_PIN")
        return msgspec.structs.replace(
            base,
            type=TEMPLATE_ALL_DEVICES,
            template_id=template.id,
            template_lang=template.lang,
            template_params=dict(template.params),
        )
    text = content.text or ""
    if content.survey:
        if not text or len(text) > MAX_LIST_TEXT:
            return Failed("SURVEY_TEXT_TOO_LONG" if text else "SURVEY_WITHOUT_TEXT")
        if not 2 <= len(content.survey) <= MAX_LIST_OPTIONS or any(
            not 1 <= len(option) <= MAX_LIST_OPTION for option in content.survey
        ):
            return Failed("SURVEY_OPTIONS")
        return msgspec.structs.replace(
            base,
            type=LIST_TRANSACTIONAL,
            message=_Text(text, attempt_id),
            survey=_Survey(list(content.survey)),
        )
    if not MIN_ITEMS <= len(content.carousel) <= MAX_ITEMS:
        return Failed("CAROUSEL_ITEMS")
    items: list[_Item] = []
    for card in content.carousel:
        item = _item(card)
        if isinstance(item, str):
            return Failed(item)
        items.append(item)
    if not text:
        # Viber shows a carousel under a text: the first card's title stands for it
        text = items[0].title
    return msgspec.structs.replace(
        base, type=CAROUSEL, message=_Text(text, attempt_id), carousel=_Carousel(items)
    )


# --- the answer --------------------------------------------------------------------------------


def outcome_for_status(status: int, token: int | str | None) -> Outcome:
    """What Viber's `status` (and, for 0, its `message_token`) means for the step."""
    if status == 0:
        if token in (None, "", 0):
            return InDoubt("BAD_RESPONSE")
        return Sent(str(token))
    if status in _UNREACHABLE:
        return _UNREACHABLE[status]
    if status in _MISCONFIGURED:
        return Misconfigured(_MISCONFIGURED[status])
    if status in _RETRY:
        return Retry(_RETRY[status])
    return Failed(_FAILED.get(status, f"VIBER_{status}"))


async def send_message(
    client: httpx.AsyncClient, partner_url: str, body: _SendMessage, attempt_id: str
) -> Outcome:
    try:
        response = await client.post(
            f"{partner_url.rstrip('/')}{SEND_PATH}",
            content=msgspec.json.encode(body),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        log.warning("viber send failed: %s (attempt %s)", type(exc).__name__, attempt_id)
        return transport_outcome(exc)
    if response.status_code >= 500:
        return Retry(f"HTTP_{response.status_code}")
    if response.status_code != 200:
        # Viber answers every send with 200: anything else is not Viber (a wrong URL)
        return Misconfigured(f"HTTP_{response.status_code}")
    try:
        answer = msgspec.json.decode(response.content, type=_Answer)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return InDoubt("BAD_RESPONSE")
    outcome = outcome_for_status(answer.status, answer.message_token)
    if not isinstance(outcome, Sent):
        log.info("viber answered status %d for attempt %s", answer.status, attempt_id)
    return outcome


# --- the status callbacks ----------------------------------------------------------------------


def is_receipt(body: bytes) -> bool:
    """Whether `body` is one of Viber's own status callbacks (not a Vonage webhook)."""
    try:
        msgspec.json.decode(body, type=_Receipt)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False
    return True


def receipt_events(body: bytes, now_ms: int) -> tuple[Event, ...]:
    """The delivery report a callback makes: delivered, seen (read) or expired (failed)."""
    receipt = msgspec.json.decode(body, type=_Receipt)
    state = _RECEIPTS.get(receipt.message_status)
    if state is None:
        return ()
    return (
        DeliveryReport(
            channel="viber_business",
            provider_id=str(receipt.message_token),
            state=state,
            at_ms=receipt.message_time or now_ms,
            reason="EXPIRED" if state == "failed" else None,
        ),
    )
