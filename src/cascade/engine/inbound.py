"""Applying what channels' webhooks learnt: delivery reports, contacts, survey answers,
what people wrote back, and what they write to bots (ChatHub chats) — all stored before
the provider is answered."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from cascade.domain.chats import ChatArrival, ChatEntry
from cascade.domain.events import (
    BotChatMessage,
    ContactLinked,
    ContactState,
    DeliveryReport,
    Event,
    InboundMessage,
    SurveyAnswer,
    without_nul,
)
from cascade.engine.group_commit import GroupCommit
from cascade.store.base import StoredIncoming
from cascade.store.protocols import InboundStore

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """What applying events did to chats, for ChatHub's live events: people's messages
    stored (their chats as they are now), and operators' messages whose receipts changed
    their status."""

    arrivals: list[ChatArrival] = field(default_factory=list)
    receipts: list[ChatEntry] = field(default_factory=list)


async def apply_events(
    store: InboundStore,
    events: Sequence[Event],
    wake: Callable[[], None] | None = None,
    chat_channels: Collection[str] = (),
) -> Applied:
    """Store what `events` say. Delivery reports on `chat_channels` (the bots people chat
    on) are first matched with operators' chat messages. A NUL anywhere in them is
    stored as U+FFFD (`without_nul`): PostgreSQL's text cannot hold it."""
    events = [without_nul(event) for event in events]
    applied = Applied()
    reports = [e for e in events if isinstance(e, DeliveryReport)]
    # receipts for operators' chat messages (Viber's delivered / seen) are the chats'; the
    # others, and any that matches no chat message yet, are the engine's
    for_chats = [r for r in reports if r.channel in chat_channels]
    if for_chats:
        found = await store.record_chat_receipts(for_chats)
        applied.receipts = found.changed
        ours = {id(r) for r, hit in zip(for_chats, found.matched, strict=True) if hit}
        reports = [r for r in reports if id(r) not in ours]
    if reports:  # one transaction for all of them
        await store.record_reports(reports)
        if wake is not None and any(r.state == "failed" for r in reports):
            wake()
    incoming = [e for e in events if isinstance(e, InboundMessage)]
    if incoming:
        log_incoming(await store.record_incoming(incoming))
    for event in events:
        match event:
            case ContactLinked(channel, sender_id, phone, address):
                await store.link_contact(channel, sender_id, phone, address)
            case ContactState(channel, sender_id, address, reachable):
                await store.set_contact_reachable(channel, sender_id, address, reachable)
            case SurveyAnswer(channel, sender_id, address, answer, message_id, _at):
                await store.record_survey_answer(channel, sender_id, address, answer, message_id)
    # after contacts: a person who shares their phone and writes in one update is a chat
    # with a phone
    chats = [e for e in events if isinstance(e, BotChatMessage)]
    if chats:  # one transaction, before the webhook is answered
        applied.arrivals = [a for a in await store.record_chat_messages(chats) if a is not None]
    return applied


def log_incoming(stored: Sequence[StoredIncoming | None]) -> None:
    """Say what became of incoming messages: an unrouted one is kept, never dropped
    silently; one joined from fewer pieces than it had is stored as what came."""
    for found in stored:
        if found is None:
            continue
        if found.account_id is None:
            log.warning(
                "incoming %s message %s from %s to %r matches no account: stored unrouted",
                found.channel,
                found.id,
                found.phone,
                found.to,
            )
        if found.parts < found.parts_expected:
            log.warning(
                "incoming %s message %s from %s: %d of %d parts came; stored as they are",
                found.channel,
                found.id,
                found.phone,
                found.parts,
                found.parts_expected,
                extra={"account": found.account_id} if found.account_id else None,
            )


_REPORT_LINGER_S = 0.005  # receipts are acknowledged at most this much later, in groups


def report_committer(
    store: InboundStore, wake: Callable[[], None] | None = None
) -> GroupCommit[Event]:
    """Group commit for events from sessions (SMPP receipts arrive one by one): those that
    arrive while a commit is under way share the next transaction, and each caller waits
    for it, so a receipt is acknowledged to the provider only once it is stored."""

    async def commit(events: list[Event]) -> None:
        await apply_events(store, events, wake)  # sessions carry no chats

    return GroupCommit(commit, linger_s=_REPORT_LINGER_S)
