"""`cascade up` with Viber Business Messages: the Vonage simulator, the demo's Vonage
account, and its status webhook pointed at Cascade as an operator would in the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx

from cascade.channels.spec import Demo, asgi_simulator, unless_set
from cascade.channels.viber_business.settings import ViberBusinessSettings
from cascade.channels.viber_business.webhook import CHANNEL
from cascade.domain.templates import OTP_TEMPLATES

# an installation-level Vonage account the simulator accepts
KEY, SECRET, SERVICE_ID, SIGNATURE_SECRET = (
    "demo-vonage-key",
    "demo-vonage-secret",
    "CascadeDemo",
    "demo-vonage-signature",
)
PARTNER_SERVICE_ID = 4242  # the demo's service id at Viber's own API
WINDOW_S = 15


@asynccontextmanager
async def _serve(
    host: str, port: int, s: ViberBusinessSettings
) -> AsyncIterator[Sequence[tuple[Any, int]]]:
    from cascade.simulators import viber_business as simulator

    vonage = simulator.VonageSimulator()
    partner = simulator.PartnerSimulator(scripts=vonage.scripts)
    # the demo's Viber account has the OTP templates Cascade offers (domain/templates.py)
    # registered, as an operator has them registered with Viber
    partner.register(
        [
            simulator.Template(
                t.id, t.languages, tuple(sorted(t.required)), tuple(sorted(t.optional))
            )
            for t in OTP_TEMPLATES.values()
        ]
    )
    app = simulator.create_app(vonage, accounts={KEY: SECRET}, partner=partner)
    async with asgi_simulator(app, port) as apps:
        yield apps


def _configure(
    s: ViberBusinessSettings, url: str, host: str, port: int, explicit: frozenset[str]
) -> ViberBusinessSettings:
    return replace(
        s,
        viber_business_api_url=url,
        viber_business_api_key=KEY,
        viber_business_api_secret=SECRET,
        viber_business_service_id=SERVICE_ID,
        viber_business_signature_secret=SIGNATURE_SECRET,
        viber_business_partner_url=url,
        viber_business_partner_service_id=PARTNER_SERVICE_ID,
        **unless_set(explicit, viber_business_window_s=WINDOW_S),
    )


async def _connect(http: httpx.AsyncClient, url: str, public: str) -> None:
    webhook = {
        "url": f"{public}/webhooks/{CHANNEL}/{CHANNEL}",
        "signature_secret": SIGNATURE_SECRET,
    }
    (await http.post(f"{url}/_sim/webhook", json=webhook)).raise_for_status()
    # Viber's own status callbacks (surveys, carousels, templates) to the same webhook
    partner = {"url": webhook["url"]}
    (await http.post(f"{url}/_sim/partner/webhook", json=partner)).raise_for_status()


DEMO: Demo[ViberBusinessSettings] = Demo(
    simulator="viber_business", serve=_serve, configure=_configure, connect=_connect
)
