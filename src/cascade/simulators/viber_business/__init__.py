"""The Vonage Messages API (Viber Business) simulator (see `app` for endpoints and controls)."""

from cascade.simulators.viber_business.app import (
    CallbackSent,
    Received,
    VonageSimulator,
    create_app,
    rejection_code,
    signed_token,
)
from cascade.simulators.viber_business.partner import PartnerSimulator, Template

__all__ = [
    "CallbackSent",
    "PartnerSimulator",
    "Received",
    "Template",
    "VonageSimulator",
    "create_app",
    "rejection_code",
    "signed_token",
]
