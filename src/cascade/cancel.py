"""The cancel command (SPEC A9, a Cascade extension), one for every surface: the Cascade
API's `POST /api/CascadeMessage/cancel`, the console's form and the command line call
`cancel_messages`; each only turns its own input into the two lists and the outcomes into
its own output.

It checks the request as the contract says (`cascade.domain.cancel.cancel_request`:
exactly one of the two lists, 1 to 5,000 ids; RequestRejected otherwise, storing
nothing) and has the store decide and write each message's fate in one transaction
(`cascade.domain.cancel.decide_cancel`). No engine needs waking: a message cancelled at
once has no task left, and the mark on one whose step is in flight is read when that
step's outcome brings its task due.
"""

from __future__ import annotations

from collections.abc import Sequence

from cascade.domain.cancel import CancelOutcome, cancel_request
from cascade.store.protocols import ApiStore


async def cancel_messages(
    store: ApiStore,
    account_id: str,
    *,
    message_ids: Sequence[str] | None = None,
    tracking_ids: Sequence[str] | None = None,
) -> list[CancelOutcome]:
    """Cancel the account's messages named by `message_ids` or by `tracking_ids` (one of
    the two); one outcome per distinct id, in the order given."""
    request = cancel_request(message_ids, tracking_ids)
    return await store.cancel_messages(account_id, request)
