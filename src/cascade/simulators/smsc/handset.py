"""What a handset sends when a person writes to an address: the text in an alphabet, cut
into pieces with the concatenation header a phone (or the SMSC) puts on them.

Written from the specifications for the simulator alone: the alphabets SMPP names by
`data_coding` (GSM 7-bit default alphabet 0x00, unpacked; Latin-1 0x03; UCS-2 0x08), and
the three ways a concatenated message reaches an ESME — a user data header with an 8-bit
reference (3GPP TS 23.040 §9.2.3.24.1, 6 octets) or a 16-bit one (§9.2.3.24.8, 7
octets), with UDHI in `esm_class`, or the SMPP `sar_*` optional parameters with no header
(SMPP 3.4 §5.3.2.22-24). A piece never ends between an escape and the code after it, nor
between the two halves of a surrogate pair.
"""

from __future__ import annotations

import random
import struct
from typing import Final, Literal, NamedTuple

from cascade.simulators.smsc.text import ESCAPE, encode_default_alphabet
from cascade.simulators.smsc.wire import (
    CODING_DEFAULT,
    CODING_LATIN1,
    CODING_UCS2,
    ESM_DEFAULT_TYPE,
    ESM_UDHI,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
)

Coding = Literal["gsm7", "latin1", "ucs2"]
Concatenation = Literal["udh8", "udh16", "sar"]

CODINGS: Final[dict[str, int]] = {
    "gsm7": CODING_DEFAULT,
    "latin1": CODING_LATIN1,
    "ucs2": CODING_UCS2,
}
LONE_OCTETS: Final = {"gsm7": 160, "latin1": 140, "ucs2": 140}  # GSM-7: septets, one an octet
HEADER_OCTETS: Final = {"udh8": 6, "udh16": 7, "sar": 0}
UNIT: Final = {"gsm7": 1, "latin1": 1, "ucs2": 2}  # a piece ends on a whole code unit


class Cut(NamedTuple):
    """One piece as it goes in a deliver_sm."""

    number: int
    short_message: bytes  # the header (if any) and the piece's octets
    esm_class: int
    tlvs: tuple[tuple[int, bytes], ...]
    octets: bytes  # the piece's own text octets


class Written(NamedTuple):
    coding: Coding
    data_coding: int
    reference: int | None
    cuts: tuple[Cut, ...]


def encode(text: str, coding: Coding | None) -> tuple[Coding, bytes]:
    """The text's octets in `coding` (None: GSM-7 when it can, else UCS-2); ValueError
    when the text has a character that coding lacks."""
    if coding is None:
        default = encode_default_alphabet(text)
        return ("gsm7", default) if default is not None else ("ucs2", text.encode("utf-16-be"))
    if coding == "gsm7":
        octets = encode_default_alphabet(text)
        if octets is None:
            raise ValueError("the text has characters the GSM 7-bit alphabet lacks")
        return coding, octets
    if coding == "latin1":
        try:
            return coding, text.encode("latin-1")
        except UnicodeEncodeError as error:
            raise ValueError("the text has characters Latin-1 lacks") from error
    return coding, text.encode("utf-16-be")


def _splits(octets: bytes, coding: Coding, room: int) -> list[bytes]:
    room -= room % UNIT[coding]
    pieces: list[bytes] = []
    start = 0
    while len(octets) - start > room:
        end = start + room
        if coding == "gsm7" and octets[end - 1] == ESCAPE:
            end -= 1  # the escape goes with its code
        elif coding == "ucs2" and 0xD8 <= octets[end - 2] <= 0xDB:
            end -= 2  # a high surrogate goes with its low one
        pieces.append(octets[start:end])
        start = end
    pieces.append(octets[start:])
    return pieces


def write(
    text: str,
    coding: Coding | None = None,
    concatenation: Concatenation = "udh8",
    reference: int | None = None,
) -> Written:
    """The pieces a phone sends for `text` (one, unless it does not fit one)."""
    chosen, octets = encode(text, coding)
    data_coding = CODINGS[chosen]
    if len(octets) <= LONE_OCTETS[chosen]:
        return Written(chosen, data_coding, None, (Cut(1, octets, ESM_DEFAULT_TYPE, (), octets),))
    header_size = HEADER_OCTETS[concatenation]
    if chosen == "gsm7":  # the header takes whole septets: 6 octets are 7 of them, 7 are 8
        header_size = -(-header_size * 8 // 7)
    pieces = _splits(octets, chosen, LONE_OCTETS[chosen] - header_size)
    total = len(pieces)
    if total > 255:
        raise ValueError("a concatenated message has at most 255 pieces")
    wide = concatenation in ("udh16", "sar")
    if reference is None:
        reference = random.randrange(1 << 16 if wide else 1 << 8)
    cuts = []
    for number, piece in enumerate(pieces, start=1):
        if concatenation == "sar":
            tlvs = (
                (TAG_SAR_MSG_REF_NUM, struct.pack("!H", reference)),
                (TAG_SAR_TOTAL_SEGMENTS, bytes((total,))),
                (TAG_SAR_SEGMENT_SEQNUM, bytes((number,))),
            )
            cuts.append(Cut(number, piece, ESM_DEFAULT_TYPE, tlvs, piece))
            continue
        if wide:
            header = struct.pack("!BBBHBB", 6, 0x08, 4, reference, total, number)
        else:
            header = bytes((5, 0x00, 3, reference, total, number))
        cuts.append(Cut(number, header + piece, ESM_DEFAULT_TYPE | ESM_UDHI, (), piece))
    return Written(chosen, data_coding, reference, tuple(cuts))
