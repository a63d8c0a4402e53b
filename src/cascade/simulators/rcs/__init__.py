"""The RCS Business Messaging simulator: RBM's REST API, its token endpoint, its webhook."""

from cascade.simulators.rcs.app import (
    RcsSimulator,
    Received,
    create_app,
    new_service_account,
    sign,
)

__all__ = ["RcsSimulator", "Received", "create_app", "new_service_account", "sign"]
