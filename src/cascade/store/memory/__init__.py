"""An in-memory store: every protocol of `cascade.store.protocols`, over plain dicts.

Public testing API. `MemoryStore(clock)` is the SQL store's twin for tests that need no
I/O: the same semantics (idempotent intake, claims under leases, transitions, delivery
reports through `cascade.domain.lifecycle.apply_report`, status-webhook events, flash-call
codes, accounts and contacts) and the same errors, checked by the same contract suite
(tests/test_store_contract.py) as SQLite and PostgreSQL. It keeps nothing across
processes, and each call runs whole without yielding to the event loop, so calls are
atomic as the SQL store's transactions are.

- `tables`: the rows (one dataclass per table of `cascade.store.schema`, fields named as
  its columns); `MemoryStore.rows(table)` returns a copy of a table for inspection;
- `records`: accounts, credentials, variables, intake, reading back, short links,
  senders, contacts, callbacks and flash-call codes;
- `ledger`: claims, transitions, send intents, delivery reports;
- `cancel`: cancel requests (over `ledger`);
- `prices`: the price table, replaced whole by each load;
- `history`: a message's history, read for its timeline;
- `incoming`: incoming messages (people writing back) and the pieces of SMS waiting;
- `conversations`: ChatHub's chats, their messages and media; operators' status changes;
- `chats`: ChatHub's organizations, their bots and operators; the installation's secrets;
- `console`: the console's reads: a message search and a period's figures;
- `figures`: what the metrics read when scraped: the due backlog, ChatHub's chats.
"""

from typing import TYPE_CHECKING

from cascade.store.memory.cancel import Cancels
from cascade.store.memory.chats import Chats
from cascade.store.memory.console import ConsoleReads
from cascade.store.memory.conversations import Conversations
from cascade.store.memory.figures import Figures
from cascade.store.memory.history import History
from cascade.store.memory.incoming import Incoming
from cascade.store.memory.ledger import Ledger
from cascade.store.memory.prices import Prices


class MemoryStore(
    Cancels, Ledger, Incoming, Prices, Conversations, Chats, History, ConsoleReads, Figures
):
    """Everything the store does, in memory (see the modules)."""


if TYPE_CHECKING:  # mypy checks here that MemoryStore is every consumer's store; never run
    from cascade.store.protocols import Store

    def _serves_every_consumer(store: MemoryStore) -> Store:
        return store


__all__ = ["MemoryStore"]
