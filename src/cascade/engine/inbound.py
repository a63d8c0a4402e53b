"""Applying what channels' webhooks learnt: delivery reports, contacts, survey answers."""

from __future__ import annotations

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
    for event in events:
        match event:
            case DeliveryReport(channel, provider_id, state, at_ms, reason, recipient, prefix):
                await store.record_report(
                    channel,
                    provider_id,
                    state,
                    at_ms,
                    reason,
                    recipient=recipient,
                    text_prefix=prefix,
                )
                if state == "failed" and wake is not None:
                    wake()
            case ContactLinked(channel, sender_id, phone, address):
                await store.link_contact(channel, sender_id, phone, address)
            case ContactState(channel, sender_id, address, reachable):
                await store.set_contact_reachable(channel, sender_id, address, reachable)
            case SurveyAnswer(channel, sender_id, address, answer, message_id, _at):
                await store.record_survey_answer(channel, sender_id, address, answer, message_id)
