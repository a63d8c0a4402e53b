"""The message the channel and simulator tests send: an `Outbound`, every field at a usual
value unless a test says otherwise."""

from __future__ import annotations

from typing import Any

from cascade.domain.content import cascade_content
from cascade.domain.sending import Outbound, Sender

# what a Cascade API message shows, as `cascade_content` takes it
_CONTENT_FIELDS = ("text", "survey_options", "image_url", "button_text", "button_url")


def outbound_to(phone: str, sender: Sender, /, **fields: Any) -> Outbound:
    """A transactional text to `phone` (its address too), from `sender`; `fields` set the
    rest: `content`, or a Cascade message's `text`, `survey_options`, `image_url`,
    `button_text` and `button_url`."""
    shown: dict[str, Any] = {"text": "Your order #12345 has been confirmed"}
    shown.update({name: fields.pop(name) for name in _CONTENT_FIELDS if name in fields})
    shown["survey_options"] = tuple(shown.get("survey_options") or ())
    values: dict[str, Any] = {
        "attempt_id": "att-1",
        "message_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "phone": phone,
        "address": phone,
        "content": cascade_content(*(shown.get(name) for name in _CONTENT_FIELDS)),
        "from_name": "YourStore",
        "message_type": "transaction",
        "ttl_remaining_s": 3600,
        "sender": sender,
    }
    values.update(fields)
    return Outbound(**values)


def numbered_outbound_to(phone: str, sender: Sender, /, **fields: Any) -> Outbound:
    """`outbound_to`, its attempt and message ids made from the number."""
    return outbound_to(
        phone, sender, **{"attempt_id": "att-" + phone, "message_id": "msg-" + phone, **fields}
    )
