"""`python -m cascade.simulators.smsc`: the SMSC simulator and its admin API, standalone."""

from __future__ import annotations

import argparse
import logging

from cascade.simulators.smsc.admin import main
from cascade.simulators.smsc.server import DEFAULT_PASSWORD, DEFAULT_SYSTEM_ID


def run(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cascade.simulators.smsc", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2775, help="SMPP port")
    parser.add_argument("--admin-port", type=int, default=8093, help="HTTP /_sim/ admin port")
    parser.add_argument("--system-id", default=DEFAULT_SYSTEM_ID)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    main(
        args.host,
        args.port,
        args.admin_port,
        system_id=args.system_id,
        password=args.password,
    )


if __name__ == "__main__":  # pragma: no cover
    run()
