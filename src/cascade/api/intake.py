"""Message intake: a send request's body becomes committed messages, or one 400.

Nothing is stored unless every item is valid; the messages and their first delivery
tasks are committed in one transaction before the answer is sent (SPEC A3, A4, A7).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import msgspec

from cascade.api.auth import Principal
from cascade.api.wire import Accepted, Envelope, MessageIn, decode_items, decode_send
from cascade.clock import Clock
from cascade.domain.errors import RequestRejected
from cascade.domain.message import (
    MAX_BATCH,
    MAX_TEXT,
    MAX_UPLOAD_VARIABLES,
    Context,
    Form,
    Route,
    validate,
)
from cascade.domain.variables import VariableKey, inline_variables, is_absolute_http_url
from cascade.ids import new_id
from cascade.observer import NO_OBSERVER, Observer
from cascade.store import IntakeStore, NewMessage, TrackingIdConflict
from cascade.store.base import fresh_count

_encode = msgspec.json.encode


class Intake:
    def __init__(
        self,
        store: IntakeStore,
        clock: Clock,
        link_base: str,
        new_code: Callable[[], str],
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self._store = store
        self._observer = observer
        self._clock = clock
        self._link_base = link_base.rstrip("/")
        self._new_code = new_code

    async def send(self, principal: Principal, body: bytes, route: Route) -> list[Accepted]:
        decoded = decode_send(body)
        form: Form
        if isinstance(decoded, Envelope):
            items, form, prefix = decoded.messages, "envelope", "messages"
        else:
            items, form, prefix = decoded, "array", ""
        if not items:
            raise RequestRejected("EMPTY_BATCH", "At least one message is required", prefix or None)
        if len(items) > MAX_BATCH:
            raise RequestRejected(
                "BATCH_TOO_LARGE", f"At most {MAX_BATCH} messages per request", prefix or None
            )

        account = principal.account
        account_vars: Mapping[VariableKey, str] = {}
        if any(_mentions_variable(item) for item in items):
            account_vars = await self._store.account_variables(account.id)
        ctx = Context(
            form=form,
            route=route,
            now_ms=self._clock.now_ms(),
            default_from_name=account.default_from_name,
            account_variables=account_vars,
            link_base=self._link_base,
            new_code=self._new_code,
        )

        route_tag = route.value.encode()
        new: list[NewMessage] = []
        seen: dict[str, tuple[int, bytes]] = {}  # tracking key → (index in `new`, fingerprint)
        order: list[int] = []  # for each item, its index in `new`
        for index, item in enumerate(items):
            fingerprint = hashlib.blake2b(route_tag + _encode(item), digest_size=16).digest()
            try:
                draft = validate(item, fingerprint, ctx)
            except RequestRejected as err:
                raise err.at(f"{prefix}[{index}]") from None
            # an id-less item is known by its content (see store: idempotency window)
            key = draft.tracking_id if draft.tracking_id is not None else fingerprint.hex()
            earlier = seen.get(key)
            if earlier is not None:
                if earlier[1] != fingerprint:
                    raise _duplicate(f"{prefix}[{index}].id")
                order.append(earlier[0])
                continue
            seen[key] = (len(new), fingerprint)
            order.append(len(new))
            new.append(NewMessage(new_id(), draft, principal.bots))

        try:
            ids = await self._store.accept(account.id, new)
        except TrackingIdConflict as err:
            item_index = order.index(err.index)
            raise _duplicate(f"{prefix}[{item_index}].id") from None
        self._observer.accepted(account.id, fresh_count(new, ids))
        return [Accepted(ids[slot], new[slot].draft.tracking_id or ids[slot]) for slot in order]

    async def upload_variables(self, account_id: str, body: bytes) -> int:
        """POST /api/items: upsert account-level variable values."""
        items = decode_items(body)
        if len(items.variables) > MAX_UPLOAD_VARIABLES:
            raise RequestRejected(
                "TOO_MANY_VARIABLES",
                f"At most {MAX_UPLOAD_VARIABLES} variables per upload",
                "variables",
            )
        values = inline_variables(items.variables)
        for index, var in enumerate(items.variables):
            field = f"variables[{index}].value"
            if len(var.value) > MAX_TEXT:
                raise RequestRejected(
                    "VALUE_TOO_LONG", f"value must be at most {MAX_TEXT} characters", field
                )
            if "\x00" in var.value:
                raise RequestRejected("INVALID_CHARACTER", "NUL characters are not allowed", field)
            if var.type == "short_url" and not is_absolute_http_url(var.value):
                raise RequestRejected(
                    "INVALID_URL", "a short_url value must be an absolute http(s) URL", field
                )
        await self._store.upsert_variables(account_id, values)
        return len(values)


def _mentions_variable(item: MessageIn) -> bool:
    if item.text is not None and "%" in item.text:
        return True
    fallback = item.fallback
    return fallback is not None and fallback.text is not None and "%" in fallback.text


def _duplicate(field: str) -> RequestRejected:
    return RequestRejected(
        "DUPLICATE_ID", "This id was already used for a message with different content", field
    )
