"""The core API's status webhooks priced as they leave (SPEC D7, D9).

The store owes a webhook its body in the same transaction as the status change, and
prices nothing: a core-API body is stored with `"cost": null`. The dispatcher hands each
batch of bodies it is about to send to `WebhookCost`, and each core-API one gets the cost
of what its message had sent by the event's `timestamp`: the status answer's rule
(`cascade.domain.prices.sent_cost`, over the attempts started by then) on this process's
price table. It stays null when a send has no price or no table is loaded. A body is
priced at each try, so a retry after a `prices load` carries the new table's figure; a
Cascade API body, and one whose message is gone, leave as stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from cascade.domain.prices import amount_number, sent_cost
from cascade.store.price_book import PriceBook
from cascade.store.protocols import CallbackStore

_ENCODER = msgspec.json.Encoder(decimal_format="number")  # a cost is a JSON number
_MARK = '"deliverystatus"'  # in every core-API status body, in no Cascade API one


def _core_api_body(payload: str) -> dict[str, Any] | None:
    """The body, if it is a core-API status body still without its cost."""
    if _MARK not in payload:
        return None
    try:
        body = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return None
    if (
        isinstance(body, dict)
        and "cost" in body
        and body["cost"] is None
        and isinstance(body.get("messageId"), str)
    ):
        return body
    return None


def _epoch_ms(timestamp: object) -> int | None:
    """`2026-01-01T00:00:00.000Z` as epoch milliseconds (None: not such a timestamp)."""
    if not isinstance(timestamp, str):
        return None
    try:
        return round(datetime.fromisoformat(timestamp).timestamp() * 1000)
    except ValueError:
        return None


class WebhookCost:
    """Fills in the `cost` of the core API's status bodies (a `CallbackDispatcher`'s
    `complete`)."""

    def __init__(self, store: CallbackStore, prices: PriceBook) -> None:
        self._store = store
        self._prices = prices

    async def __call__(self, payloads: Sequence[str]) -> list[str]:
        out = list(payloads)
        owed = {i: body for i, p in enumerate(payloads) if (body := _core_api_body(p))}
        if not owed:
            return out
        table = await self._prices.table()
        views = await self._store.messages_by_id({b["messageId"] for b in owed.values()})
        by_id = {view.id: view for view in views}
        for i, body in owed.items():
            view = by_id.get(body["messageId"])
            if view is None:
                continue
            cost = sent_cost(table, view.phone, view.attempts, _epoch_ms(body.get("timestamp")))
            if cost is not None:
                body["cost"] = amount_number(cost.amount)
                out[i] = _ENCODER.encode(body).decode()
        return out
