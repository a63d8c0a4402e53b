"""The RCS channel: Google RCS Business Messaging (RBM) REST API, as one agent.

Recipients are addressed by phone. A capability check (cached) skips phones RBM cannot
reach; a message is created with Cascade's attempt id as its `messageId` (so a repeat is
refused, never delivered twice) and the message's remaining TTL as `expireTime`; the
DELIVERED event on the agent webhook confirms delivery, READ makes it read, and a message
still undelivered when the step's window ends is revoked. Calls are authorised with a
service account's OAuth token, obtained through google-auth.
"""

from cascade.channels.rcs.auth import (
    GOOGLE_TOKEN_URI,
    SCOPE,
    AuthError,
    HttpxRequest,
    ServiceAccountTokens,
    TokenSource,
)
from cascade.channels.rcs.client import (
    DEFAULT_BASE_URL,
    LIMITS,
    RcsChannel,
    RevokeResult,
    rfc3339,
)
from cascade.channels.rcs.content import content_message
from cascade.channels.rcs.webhook import (
    SIGNATURE_HEADER,
    WEBHOOK_ROUTE,
    handle_webhook,
    parse_survey_postback,
    rfc3339_ms,
    signature,
    survey_postback,
    webhook_handler,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "GOOGLE_TOKEN_URI",
    "LIMITS",
    "SCOPE",
    "SIGNATURE_HEADER",
    "WEBHOOK_ROUTE",
    "AuthError",
    "HttpxRequest",
    "RcsChannel",
    "RevokeResult",
    "ServiceAccountTokens",
    "TokenSource",
    "content_message",
    "handle_webhook",
    "parse_survey_postback",
    "rfc3339",
    "rfc3339_ms",
    "signature",
    "survey_postback",
    "webhook_handler",
]
