"""Applying what channels' webhooks learnt: delivery reports, contacts, survey answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from cascade.channels.base import (
    ContactLinked,
    ContactState,
    DeliveryReport,
    Event,
    SurveyAnswer,
)
from cascade.store.sql import SqlStore


async def apply_events(
    store: SqlStore, events: Sequence[Event], wake: Callable[[], None] | None = None
) -> None:
    reports = [e for e in events if isinstance(e, DeliveryReport)]
    if reports:  # one transaction for all of them
        await store.record_reports(reports)
        if wake is not None and any(r.state == "failed" for r in reports):
            wake()
    for event in events:
        match event:
            case ContactLinked(channel, sender_id, phone, address):
                await store.link_contact(channel, sender_id, phone, address)
            case ContactState(channel, sender_id, address, reachable):
                await store.set_contact_reachable(channel, sender_id, address, reachable)
            case SurveyAnswer(channel, sender_id, address, answer, message_id, _at):
                await store.record_survey_answer(channel, sender_id, address, answer, message_id)


class ReportBatcher:
    """Group commit for events from sessions (SMPP receipts arrive one by one): those that
    arrive together share one transaction, and each caller waits for it, so a receipt is
    acknowledged to the provider only once it is stored."""

    def __init__(self, store: SqlStore, wake: Callable[[], None] | None = None) -> None:
        self._store = store
        self._wake = wake
        self._waiting: list[Event] = []
        self._flushed: asyncio.Future[None] | None = None

    async def __call__(self, events: Sequence[Event]) -> None:
        self._waiting.extend(events)
        if self._flushed is None:
            loop = asyncio.get_running_loop()
            self._flushed = loop.create_future()
            loop.call_soon(lambda: asyncio.ensure_future(self._flush()))
        await asyncio.shield(self._flushed)

    async def _flush(self) -> None:
        events, self._waiting = self._waiting, []
        flushed, self._flushed = self._flushed, None
        assert flushed is not None
        try:
            await apply_events(self._store, events, self._wake)
        except Exception as err:  # every caller learns it; the provider offers them again
            flushed.set_exception(err)
        else:
            flushed.set_result(None)
