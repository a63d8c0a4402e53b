"""`cascade simulate NAME`: one provider simulator, standalone, on a real port.

Each simulator is an independent implementation of its provider (see README.md here);
`cascade up` runs them all for the demo, this command runs one for your own tests.
"""

from __future__ import annotations

from typing import Any

import click

SIMULATED = ("telegram", "viber", "viber_business", "rcs", "sms", "flashcall")


@click.command()
@click.argument("channel", type=click.Choice(SIMULATED))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=int,
    default=None,
    help="Default: 8081 telegram, 8082 viber, 8083 viber_business, 8084 rcs, "
    "2775 sms (SMPP), 8087 flashcall.",
)
@click.option(
    "--admin-port",
    type=int,
    default=8086,
    show_default=True,
    help="sms: the SMSC's /_sim/ admin API.",
)
@click.option(
    "--bot", "bots", multiple=True, help="viber: an auth token the simulator accepts (repeatable)."
)
@click.option(
    "--account",
    "accounts",
    multiple=True,
    help="viber_business KEY:SECRET, "
    "flashcall SID:TOKEN, sms SYSTEM_ID:PASSWORD (repeatable; sms takes one).",
)
@click.option("--agent", "agents", multiple=True, help="rcs: an agent id it serves.")
@click.option("--no-rate-limits", is_flag=True, help="telegram: do not answer 429.")
@click.option(
    "--receipt-window",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="sms: deliver_sm receipts sent before their deliver_sm_resp is awaited.",
)
def simulate(
    channel: str,
    host: str,
    port: int | None,
    admin_port: int,
    bots: tuple[str, ...],
    accounts: tuple[str, ...],
    agents: tuple[str, ...],
    no_rate_limits: bool,
    receipt_window: int,
) -> None:
    """Run one provider simulator standalone on a real port (scripts: /_sim/ on it)."""
    import uvicorn

    from cascade.simulators import flashcall as twilio_sim
    from cascade.simulators import rcs as rcs_sim
    from cascade.simulators import smsc as smsc_sim
    from cascade.simulators import telegram as telegram_sim
    from cascade.simulators import viber as viber_sim
    from cascade.simulators import viber_business as vonage_sim

    pairs = dict(a.split(":", 1) for a in accounts if ":" in a)
    if channel == "sms":
        system_id, password = next(
            iter(pairs.items()), (smsc_sim.DEFAULT_SYSTEM_ID, smsc_sim.DEFAULT_PASSWORD)
        )
        smsc_sim.main(
            host,
            port or 2775,
            admin_port,
            system_id=system_id,
            password=password,
            receipt_window=receipt_window,
        )
        return
    app: Any
    if channel == "telegram":
        app = telegram_sim.create_app(rate_limits=not no_rate_limits)
    elif channel == "viber":
        app = viber_sim.create_app(bots=dict.fromkeys(bots, "Cascade"))
    elif channel == "viber_business":
        app = vonage_sim.create_app(accounts=pairs)
    elif channel == "rcs":
        app = rcs_sim.create_app(agents=agents)
    else:
        app = twilio_sim.create_app(accounts=pairs)
    default_port = {
        "telegram": 8081,
        "viber": 8082,
        "viber_business": 8083,
        "rcs": 8084,
        "flashcall": 8087,
    }[channel]
    # no access log: bot tokens travel in Telegram's URL paths
    uvicorn.run(app, host=host, port=port or default_port, access_log=False, log_level="warning")
