"""Message intake: a send request's body becomes committed messages, or one 400.

Nothing is stored unless every item is valid; the messages and their first delivery
tasks are committed in one transaction before the answer is sent (SPEC A3, A4, A7).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from cascade.api.auth import Principal
from cascade.api.wire import (
    Accepted,
    DryRunOut,
    Envelope,
    MessageIn,
    RouteOut,
    decode_items,
    decode_send,
)
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
from cascade.logs import about_message
from cascade.observer import NO_OBSERVER, Observer
from cascade.store import IntakeStore, NewMessage, TrackingIdConflict
from cascade.store.base import fresh_count

_encode = msgspec.json.encode
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid send request: the distinct messages to store, for each item its message's
    index (an item repeated within the request shares the first's), and the items'
    field prefix (`messages` in the envelope form)."""

    messages: list[NewMessage]
    order: list[int]
    prefix: str


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
        checked = await self.check(principal, body, route)
        new, order, prefix = checked.messages, checked.order, checked.prefix
        with about_message(account=principal.account.id):
            try:
                ids = await self._store.accept(principal.account.id, new)
            except TrackingIdConflict as err:
                item_index = order.index(err.index)
                raise _duplicate(f"{prefix}[{item_index}].id") from None
            self._observer.accepted(principal.account.id, fresh_count(new, ids))
            if log.isEnabledFor(logging.DEBUG):
                for message, stored in zip(new, ids, strict=True):
                    said = "accepted" if stored == message.id else "accepted before (a repeat)"
                    log.debug(
                        "%s: %s route, to %s",
                        said,
                        route,
                        message.draft.phone,
                        extra={"message_id": stored},
                    )
        # a repeat answers with the id stored before, not the one made for it here
        return [
            Accepted(ids[slot], new[slot].draft.tracking_id or ids[slot], ids[slot] != new[slot].id)
            for slot in order
        ]

    async def preview(
        self,
        principal: Principal,
        body: bytes,
        route: Route,
        routes: Callable[[Principal, Sequence[NewMessage]], Awaitable[list[RouteOut]]],
    ) -> list[DryRunOut]:
        """A dry run (SPEC A9): the request checked as `send` checks it — a tracking id
        stored with other content is DUPLICATE_ID — and, per item, the route `routes` says
        its message would take, or, for a repeat of a stored message, that message's id
        (nothing is sent again). Nothing is stored."""
        checked = await self.check(principal, body, route)
        messages, prefix = checked.messages, checked.prefix
        tracked = {m.draft.tracking_id for m in messages if m.draft.tracking_id is not None}
        stored = await self._store.stored_tracking_ids(principal.account.id, tracked)
        repeats: dict[int, str] = {}
        for slot, message in enumerate(messages):
            tracking_id = message.draft.tracking_id
            found = stored.get(tracking_id) if tracking_id is not None else None
            if found is None:
                continue
            if found[1] != message.draft.fingerprint:
                raise _duplicate(f"{prefix}[{checked.order.index(slot)}].id")
            repeats[slot] = found[0]
        fresh = [slot for slot in range(len(messages)) if slot not in repeats]
        found_routes = await routes(principal, [messages[slot] for slot in fresh])
        by_slot = dict(zip(fresh, found_routes, strict=True))
        return [
            DryRunOut(messages[slot].draft.tracking_id, True, None, repeats[slot])
            if slot in repeats
            else DryRunOut(messages[slot].draft.tracking_id, True, by_slot[slot])
            for slot in checked.order
        ]

    async def check(self, principal: Principal, body: bytes, route: Route) -> Checked:
        """Validate a send request as `send` does, storing nothing (a dry run stops here):
        the messages it would store, and for each item of the request its message."""
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

        return Checked(new, order, prefix)

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
