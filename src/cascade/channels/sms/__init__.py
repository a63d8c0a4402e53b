"""The SMS channel: SMPP 3.4 to an SMSC, as an ESME bound as a transceiver.

`SmsChannel` (a `SessionChannel`) sends through `SmppSession`, which keeps one bound
link with a window of outstanding `submit_sm`, `enquire_link` keep-alives and reconnects
with backoff; receipts arrive as `deliver_sm` on the same link and reach the engine as
`DeliveryReport`s; messages people send to the sender arrive the same way and reach it as
`InboundMessage`s. `encoding` holds the GSM-7/UCS-2 rules and the concatenation UDH;
`pdu` the wire format, with `smpp34` as the PDU codec (README.md says why).
"""

from cascade.channels.sms.channel import (
    CHANNEL,
    SmsChannel,
    destination_address,
    event_for,
    outcome_for_status,
    report_for,
    source_address,
    validity_period,
)
from cascade.channels.sms.session import (
    Accepted,
    Lost,
    MobileOriginated,
    NotSent,
    Receipt,
    Rejected,
    SessionConfig,
    SmppSession,
    parse_mobile_originated,
    parse_receipt,
)

__all__ = [
    "CHANNEL",
    "Accepted",
    "Lost",
    "MobileOriginated",
    "NotSent",
    "Receipt",
    "Rejected",
    "SessionConfig",
    "SmppSession",
    "SmsChannel",
    "destination_address",
    "event_for",
    "outcome_for_status",
    "parse_mobile_originated",
    "parse_receipt",
    "report_for",
    "source_address",
    "validity_period",
]
