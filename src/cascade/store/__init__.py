"""Storage: the narrow interface the rest of Cascade uses, and its SQL implementation."""

from cascade.store.base import (
    Account,
    AttemptView,
    Conflict,
    Credential,
    CredentialKind,
    MessageView,
    NewMessage,
    Store,
    StoreError,
    TrackingIdConflict,
)

__all__ = [
    "Account",
    "AttemptView",
    "Conflict",
    "Credential",
    "CredentialKind",
    "MessageView",
    "NewMessage",
    "Store",
    "StoreError",
    "TrackingIdConflict",
]
