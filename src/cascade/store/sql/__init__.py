"""The store over SQLAlchemy Core: SQLite (default, one file, WAL) and PostgreSQL.

`SqlStore` is composed of one class per concern, each over the shared base
(`database.Database`: the engines, `_read`, `_write`, `_transact`, the store's errors):

- `accounts`: accounts, API keys, bots, stored variables;
- `intake`: new messages with their first tasks, in group commits;
- `views`: a message read back, short links followed;
- `history`: a message's history (attempts, kept reports, clicks, webhook events), read
  for its timeline;
- `contacts`: senders, contacts, survey answers;
- `callbacks`: webhook callbacks (status, incoming) and the delivery of their events;
- `incoming`: incoming messages (people writing back), and the pieces of SMS waiting;
- `changes`: a message's change of state and the webhook events it owes;
- `reports`: delivery reports (over `changes`);
- `cancel`: cancel requests (over `changes`);
- `verification`: flash-call codes;
- `ledger`: claims, transitions and send intents (over `reports` and `verification`);
- `prices`: the price table, replaced whole by each load, with its version;
- `conversations`: ChatHub's chats, their messages and media; operators' status changes;
- `chats`: ChatHub's organizations, their bots and operators; the installation's secrets;
- `figures`: what the metrics read when scraped (the due backlog, chats by status).
- `console`: the console's reads: a message search and a period's figures.

SQLite's writer runtime (thread, lock file, GIL switch) is `cascade.store.sqlite_runtime`.
"""

from typing import TYPE_CHECKING

from cascade.store.sql.accounts import Accounts
from cascade.store.sql.callbacks import Callbacks
from cascade.store.sql.cancel import Cancels
from cascade.store.sql.chats import Chats
from cascade.store.sql.console import ConsoleReads
from cascade.store.sql.contacts import Contacts
from cascade.store.sql.conversations import Conversations
from cascade.store.sql.database import async_url
from cascade.store.sql.figures import Figures
from cascade.store.sql.history import History
from cascade.store.sql.incoming import IncomingMessages
from cascade.store.sql.intake import Intake
from cascade.store.sql.ledger import Ledger
from cascade.store.sql.prices import Prices
from cascade.store.sql.views import Views


class SqlStore(
    Accounts,
    Intake,
    Views,
    History,
    Contacts,
    Callbacks,
    IncomingMessages,
    Ledger,
    Cancels,
    Prices,
    Conversations,
    Chats,
    Figures,
    ConsoleReads,
):
    """Everything the store does, over SQLite or PostgreSQL (see the modules)."""


if TYPE_CHECKING:  # mypy checks here that SqlStore is every consumer's store; never run
    from cascade.store.protocols import Store

    def _serves_every_consumer(store: SqlStore) -> Store:
        return store


__all__ = ["SqlStore", "async_url"]
