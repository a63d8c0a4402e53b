"""`cascade up` with RCS: the RBM simulator, a demo agent with a fresh service account, and
the agent's webhook pointed at Cascade (with RBM's secret handshake), as an operator
would in the RBM console."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from cascade.channels.rcs.settings import RcsSettings, service_account
from cascade.channels.rcs.webhook import CHANNEL
from cascade.channels.spec import Demo, asgi_simulator, unless_set

AGENT = "cascade-demo-agent"
CLIENT_TOKEN = "demo-rbm-client-token"  # noqa: S105
WINDOW_S = 15


@asynccontextmanager
async def _serve(host: str, port: int, s: RcsSettings) -> AsyncIterator[Sequence[tuple[Any, int]]]:
    from cascade.simulators import rcs as simulator

    key = service_account(s)
    private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    app = simulator.create_app(
        agents=(s.rcs_agent_id,), service_accounts={key["client_email"]: public_pem}
    )
    async with asgi_simulator(app, port) as apps:
        yield apps


def _configure(
    s: RcsSettings, url: str, host: str, port: int, explicit: frozenset[str]
) -> RcsSettings:
    from cascade.simulators import rcs as simulator

    key, _ = simulator.new_service_account(token_uri=f"{url}/token")
    return replace(
        s,
        rcs_api_url=f"{url}/v1",
        rcs_agent_id=AGENT,
        rcs_token_uri=f"{url}/token",
        rcs_client_token=CLIENT_TOKEN,
        rcs_service_account_json=json.dumps(key),
        rcs_service_account_file="",
        **unless_set(explicit, rcs_window_s=WINDOW_S),
    )


async def _connect(http: httpx.AsyncClient, url: str, public: str) -> None:
    webhook = {"url": f"{public}/webhooks/{CHANNEL}/{CHANNEL}", "clientToken": CLIENT_TOKEN}
    (await http.post(f"{url}/_sim/webhook", json=webhook)).raise_for_status()


DEMO: Demo[RcsSettings] = Demo(
    simulator="rcs", serve=_serve, configure=_configure, connect=_connect
)
