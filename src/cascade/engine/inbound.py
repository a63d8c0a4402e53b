"""Applying what channels' webhooks learnt: delivery reports, contacts, survey answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cascade.domain.events import ContactLinked, ContactState, DeliveryReport, Event, SurveyAnswer
from cascade.engine.group_commit import GroupCommit
from cascade.store.protocols import InboundStore


async def apply_events(
    store: InboundStore, events: Sequence[Event], wake: Callable[[], None] | None = None
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


_REPORT_LINGER_S = 0.005  # receipts are acknowledged at most this much later, in groups


def report_committer(
    store: InboundStore, wake: Callable[[], None] | None = None
) -> GroupCommit[Event]:
    """Group commit for events from sessions (SMPP receipts arrive one by one): those that
    arrive while a commit is under way share the next transaction, and each caller waits
    for it, so a receipt is acknowledged to the provider only once it is stored."""

    async def commit(events: list[Event]) -> None:
        await apply_events(store, events, wake)

    return GroupCommit(commit, linger_s=_REPORT_LINGER_S)
