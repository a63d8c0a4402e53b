"""The RCS channel's settings, each read from `CASCADE_{FIELD}` (see channels.spec)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cascade.channels.rcs.client import DEFAULT_BASE_URL
from cascade.channels.spec import setting


@dataclass(frozen=True, slots=True)
class RcsSettings:
    rcs_api_url: str = setting(DEFAULT_BASE_URL, "RCS Business Messaging API base URL")
    rcs_agent_id: str = setting("", "the RBM agent id")
    rcs_service_account_file: str = setting("", "path of the agent's service-account key (JSON)")
    rcs_service_account_json: str = setting(
        "", "the agent's service-account key itself (JSON), instead of a file"
    )
    rcs_token_uri: str = setting("", "OAuth token endpoint (default: the key's own, Google's)")
    rcs_client_token: str = setting("", "the webhook client token set in the RBM console")
    rcs_window_s: int = setting(
        600, "seconds to wait for an RBM DELIVERED event; then the message is revoked"
    )


def service_account(s: RcsSettings) -> dict[str, str]:
    """The agent's service-account key, parsed."""
    if s.rcs_service_account_json:
        key = s.rcs_service_account_json
    elif s.rcs_service_account_file:
        key = Path(s.rcs_service_account_file).read_text()
    else:
        raise ValueError(
            "rcs needs CASCADE_RCS_SERVICE_ACCOUNT_FILE or CASCADE_RCS_SERVICE_ACCOUNT_JSON"
        )
    parsed: dict[str, str] = json.loads(key)
    return parsed
