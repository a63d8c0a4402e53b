"""Dry runs (SPEC A9, a Cascade extension): validated messages' routes as the engine would
take them now (`cascade.domain.dry_run.preview_route`, over the engine's own planner),
priced by the D9 table. Nothing is stored and nothing is sent: the store is only read
(the account's bots, the phones' contacts) and no channel is reached.

Both surfaces use it: `?dryRun=true` on the Cascade API's send endpoints and on
`POST /bat/messagelist`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from cascade.api.auth import Principal
from cascade.api.wire import RouteOut, route_out
from cascade.domain.content import Content
from cascade.domain.dry_run import claimed_of, preview_route
from cascade.domain.errors import RequestRejected
from cascade.domain.planner import ChannelInfo, group_senders
from cascade.domain.sending import Sender
from cascade.store import NewMessage
from cascade.store.price_book import PriceBook
from cascade.store.protocols import RouteStore

DRY_RUN = "dryRun"  # the query parameter


def wants_dry_run(value: str | None) -> bool:
    """The `dryRun` query parameter: `true` or `false` (any case), absent: false;
    RequestRejected for anything else (a typo must not send for real)."""
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise RequestRejected("INVALID_DRY_RUN", "dryRun must be true or false", DRY_RUN)


class DryRun:
    def __init__(
        self,
        store: RouteStore,
        channels: Mapping[str, ChannelInfo],
        static_senders: Mapping[str, Sender],
        parts: Callable[[str, Content], int],
        prices: PriceBook,
    ) -> None:
        """`channels`: the installation's channels as the engine's planner sees them
        (limits and windows), by name; `parts` counts a step's parts on a channel."""
        self._store = store
        self._channels = channels
        self._static = static_senders
        self._parts = parts
        self._prices = prices

    async def routes(self, principal: Principal, messages: Sequence[NewMessage]) -> list[RouteOut]:
        """Each message's route, in order."""
        if not messages:
            return []
        account = principal.account
        senders = group_senders(await self._store.senders([account.id]))
        contacts = await self._store.contacts({m.draft.phone for m in messages})
        table = await self._prices.table()
        return [
            route_out(
                preview_route(
                    claimed_of(m.id, account.id, m.draft, m.pinned_bots, account.channel_order),
                    m.draft.due_at_ms,
                    self._channels,
                    senders,
                    contacts,
                    self._static,
                    self._parts,
                    table,
                )
            )
            for m in messages
        ]
