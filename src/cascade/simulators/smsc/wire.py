"""SMPP 3.4's numbers, as the specification lists them: the values on the wire.

These are the protocol's constants, written here from the specification (v3.4, issue
1.2) for the simulator alone: it shares no code with the product's SMPP client, so a
mistake in one is not repeated by the other.
"""

from __future__ import annotations

import enum
from typing import Final

# --- command_id (§5.1.2) ----------------------------------------------------------------------

RESPONSE: Final = 0x80000000  # set in a response's command_id; alone, it is generic_nack
GENERIC_NACK: Final = RESPONSE
CMD_BIND_RECEIVER: Final = 0x01
CMD_BIND_TRANSMITTER: Final = 0x02
CMD_SUBMIT_SM: Final = 0x04
CMD_DELIVER_SM: Final = 0x05
CMD_UNBIND: Final = 0x06
CMD_BIND_TRANSCEIVER: Final = 0x09
CMD_ENQUIRE_LINK: Final = 0x15

INTERFACE_VERSION: Final = 0x34  # sc_interface_version: this SMSC speaks 3.4


class Status(enum.IntEnum):
    """command_status (§5.1.3): every error code SMPP 3.4 defines, by its own name."""

    ESME_ROK = 0x00
    ESME_RINVMSGLEN = 0x01
    ESME_RINVCMDLEN = 0x02
    ESME_RINVCMDID = 0x03
    ESME_RINVBNDSTS = 0x04
    ESME_RALYBND = 0x05
    ESME_RINVPRTFLG = 0x06
    ESME_RINVREGDLVFLG = 0x07
    ESME_RSYSERR = 0x08
    ESME_RINVSRCADR = 0x0A
    ESME_RINVDSTADR = 0x0B
    ESME_RINVMSGID = 0x0C
    ESME_RBINDFAIL = 0x0D
    ESME_RINVPASWD = 0x0E
    ESME_RINVSYSID = 0x0F
    ESME_RCANCELFAIL = 0x11
    ESME_RREPLACEFAIL = 0x13
    ESME_RMSGQFUL = 0x14
    ESME_RINVSERTYP = 0x15
    ESME_RINVNUMDESTS = 0x33
    ESME_RINVDLNAME = 0x34
    ESME_RINVDESTFLAG = 0x40
    ESME_RINVSUBREP = 0x42
    ESME_RINVESMCLASS = 0x43
    ESME_RCNTSUBDL = 0x44
    ESME_RSUBMITFAIL = 0x45
    ESME_RINVSRCTON = 0x48
    ESME_RINVSRCNPI = 0x49
    ESME_RINVDSTTON = 0x50
    ESME_RINVDSTNPI = 0x51
    ESME_RINVSYSTYP = 0x53
    ESME_RINVREPFLAG = 0x54
    ESME_RINVNUMMSGS = 0x55
    ESME_RTHROTTLED = 0x58
    ESME_RINVSCHED = 0x61
    ESME_RINVEXPIRY = 0x62
    ESME_RINVDFTMSGID = 0x63
    ESME_RX_T_APPN = 0x64
    ESME_RX_P_APPN = 0x65
    ESME_RX_R_APPN = 0x66
    ESME_RQUERYFAIL = 0x67
    ESME_RINVOPTPARSTREAM = 0xC0
    ESME_ROPTPARNOTALLWD = 0xC1
    ESME_RINVPARLEN = 0xC2
    ESME_RMISSINGOPTPARAM = 0xC3
    ESME_RINVOPTPARAMVAL = 0xC4
    ESME_RDELIVERYFAILURE = 0xFE
    ESME_RUNKNOWNERR = 0xFF

    @classmethod
    def named(cls, name: str) -> Status | None:
        """The status a script names (`esme_rinvdstadr` too), None for no such name."""
        return cls.__members__.get(name.strip().upper())


# --- optional parameters (§5.3.2) and their values ---------------------------------------------

TAG_RECEIPTED_MESSAGE_ID: Final = 0x001E
TAG_SAR_MSG_REF_NUM: Final = 0x020C  # 2 octets: which concatenated message
TAG_SAR_TOTAL_SEGMENTS: Final = 0x020E  # 1 octet: how many pieces it has
TAG_SAR_SEGMENT_SEQNUM: Final = 0x020F  # 1 octet: which piece this is
TAG_SC_INTERFACE_VERSION: Final = 0x0210
TAG_MESSAGE_STATE: Final = 0x0427

# message_state (§5.2.28), by the word a receipt's text reports it with (`stat:DELIVRD`)
MESSAGE_STATE: Final[dict[str, int]] = {
    "ENROUTE": 1,
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}

# --- bit fields (§5.2.12, §5.2.17) and data_coding (§5.2.19) -------------------------------------

ESM_UDHI: Final = 0x40  # esm_class: short_message begins with a user data header
ESM_DELIVERY_RECEIPT: Final = 0x04  # esm_class message type of an SMSC delivery receipt
ESM_DEFAULT_TYPE: Final = 0x00  # esm_class message type of a message from a phone (MO)
TON_INTERNATIONAL: Final = 0x01
TON_ALPHANUMERIC: Final = 0x05
NPI_E164: Final = 0x01
NPI_UNKNOWN: Final = 0x00
RECEIPT_REQUESTED: Final = 0x03  # registered_delivery: which receipts the ESME asked for
RECEIPT_ON_FAILURE: Final = 0x02  # … on failure only (0x01: on success or failure)

CODING_DEFAULT: Final = 0x00  # the SMSC's default alphabet: GSM 03.38 here
CODING_IA5: Final = 0x01
CODING_LATIN1: Final = 0x03
CODING_CYRILLIC: Final = 0x06
CODING_HEBREW: Final = 0x07
CODING_UCS2: Final = 0x08
