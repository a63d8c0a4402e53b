"""Storage: the narrow interfaces the rest of Cascade uses (protocols.py), and their SQL
implementation (sql/)."""

from cascade.store.base import (
    Account,
    AttemptView,
    Conflict,
    Credential,
    CredentialKind,
    Login,
    LoginTaken,
    MessageListView,
    MessageView,
    NewMessage,
    NotFound,
    StoreError,
    TrackingIdConflict,
)
from cascade.store.protocols import (
    AccountStore,
    ApiStore,
    CallbackStore,
    ChatStore,
    EngineStore,
    InboundStore,
    IntakeStore,
    PriceStore,
)

__all__ = [
    "Account",
    "AccountStore",
    "ApiStore",
    "AttemptView",
    "CallbackStore",
    "ChatStore",
    "Conflict",
    "Credential",
    "CredentialKind",
    "EngineStore",
    "InboundStore",
    "IntakeStore",
    "Login",
    "LoginTaken",
    "MessageListView",
    "MessageView",
    "NewMessage",
    "NotFound",
    "PriceStore",
    "StoreError",
    "TrackingIdConflict",
]
