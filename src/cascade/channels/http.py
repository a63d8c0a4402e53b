"""What a failed HTTP exchange with a provider means for the message.

One rule for every HTTP channel: if the request cannot have left (no connection, no pool
slot), trying again is safe. Once it may have been written — a read timeout, a connection
cut before the answer — the provider may have acted on it, and repeating it could deliver
twice, so the outcome is `InDoubt`, never `Retry`.
"""

from __future__ import annotations

import httpx

from cascade.domain.sending import InDoubt, Misconfigured, Outcome, Retry

# Failures that happen before a byte of the request is sent.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def transport_outcome(error: httpx.HTTPError) -> Outcome:
    # Never str(error): some httpx errors quote the request URL, which may hold a token.
    if isinstance(error, httpx.UnsupportedProtocol):
        return Misconfigured("INVALID_BASE_URL")
    if isinstance(error, _BEFORE_SENDING):
        return Retry(f"NETWORK:{type(error).__name__}")
    return InDoubt(f"NO_ANSWER:{type(error).__name__}")
