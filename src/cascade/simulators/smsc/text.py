"""What a handset reads from a `short_message`: the user data header, then the text.

Written from the specifications for the simulator alone (it shares nothing with the
product's encoder): the GSM 7-bit default alphabet and its extension table (3GPP TS
23.038 §6.2.1 and §6.2.1.1), as SMPP carries it with `data_coding` 0, unpacked, one
septet per octet; the other `data_coding` values SMPP 3.4 names (§5.2.19), UCS-2 among
them; and the concatenation information elements of the user data header (3GPP TS
23.040 §9.2.3.24.1 and §9.2.3.24.8).
"""

from __future__ import annotations

import codecs
from typing import Final, NamedTuple

from cascade.simulators.smsc.wire import (
    CODING_CYRILLIC,
    CODING_DEFAULT,
    CODING_HEBREW,
    CODING_IA5,
    CODING_LATIN1,
    CODING_UCS2,
)

ESCAPE: Final = 0x1B  # the default alphabet's escape to the extension table

# The default alphabet: codes 0x00-0x1F are its own; from 0x20 on it is ASCII's but for
# thirteen codes.
_CONTROL_ROWS = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
_UNLIKE_ASCII = dict(
    zip(b"\x24\x40\x5b\x5c\x5d\x5e\x5f\x60\x7b\x7c\x7d\x7e\x7f", "¤¡ÄÖÑÜ§¿äöñüà", strict=True)
)
DEFAULT_ALPHABET: Final = _CONTROL_ROWS + "".join(
    _UNLIKE_ASCII.get(code, chr(code)) for code in range(0x20, 0x80)
)
# The extension table: what the code after an escape stands for.
EXTENSION: Final = dict(
    zip(b"\x0a\x14\x28\x29\x2f\x3c\x3d\x3e\x40\x65", "\f^{}\\[~]|€", strict=True)
)

# An octet above 0x7F is no septet: it reads as U+FFFD.
_DECODING_TABLE = DEFAULT_ALPHABET + "\ufffd" * 0x80
_ENCODING_MAP: dict[int, int | bytes] = {
    ord(char): code for code, char in enumerate(DEFAULT_ALPHABET) if code != ESCAPE
}
_ENCODING_MAP.update((ord(char), bytes((ESCAPE, code))) for code, char in EXTENSION.items())

# The character sets SMPP names by data_coding; 0x02 and 0x04 (binary) and the values not
# listed read octet for octet.
_CHARACTER_SETS: Final = {
    CODING_IA5: "ascii",
    CODING_LATIN1: "latin-1",
    CODING_CYRILLIC: "iso8859-5",
    CODING_HEBREW: "iso8859-8",
    CODING_UCS2: "utf-16-be",  # UCS-2 as handsets read it: a surrogate pair is one character
}


def decode_default_alphabet(octets: bytes) -> str:
    """Unpacked GSM 7-bit text. After an escape, a code the extension table lacks reads as
    its default-alphabet character (23.038 §6.2.1.1); a second escape, or an escape that
    ends the text, as a space (its note 1: an escape no table follows)."""
    if ESCAPE not in octets:
        return codecs.charmap_decode(octets, "strict", _DECODING_TABLE)[0]
    chars: list[str] = []
    codes = iter(octets)
    for code in codes:
        if code != ESCAPE:
            chars.append(_DECODING_TABLE[code])
            continue
        extended = next(codes, ESCAPE)
        if extended == ESCAPE:
            chars.append(" ")
        else:
            chars.append(EXTENSION.get(extended) or _DECODING_TABLE[extended])
    return "".join(chars)


def encode_default_alphabet(text: str) -> bytes | None:
    """`text` as unpacked GSM 7-bit octets, or None when a character has no code in it."""
    try:
        return codecs.charmap_encode(text, "strict", _ENCODING_MAP)[0]
    except UnicodeEncodeError:
        return None


def decode(octets: bytes, data_coding: int) -> str:
    """The text of a short message (its user data header taken off) per its data_coding."""
    if data_coding == CODING_DEFAULT or data_coding & 0xF4 == 0xF0:
        # 0xF0-0xF3: a message class, in the default alphabet (0xF4-0xF7: 8-bit data)
        return decode_default_alphabet(octets)
    return octets.decode(_CHARACTER_SETS.get(data_coding, "latin-1"), errors="replace")


class Part(NamedTuple):
    """Which piece of which message a concatenated short message is."""

    reference: int
    total: int
    number: int


_CONCATENATED_8BIT: Final = 0x00  # information element: 8-bit reference, total, number
_CONCATENATED_16BIT: Final = 0x08  # the same with a 16-bit reference


def split_user_data(short_message: bytes) -> tuple[Part | None, bytes]:
    """A short message with a user data header: its concatenation element, if it has a
    valid one, and the octets after the header. ValueError when the header's length runs
    past the message."""
    if not short_message:
        return None, short_message
    header_end = 1 + short_message[0]
    if header_end > len(short_message):
        raise ValueError("the user data header runs past the message")
    elements, body = short_message[1:header_end], short_message[header_end:]
    part: Part | None = None
    while len(elements) >= 2:
        identifier, size = elements[0], elements[1]
        value, elements = elements[2 : 2 + size], elements[2 + size :]
        if identifier == _CONCATENATED_8BIT and size == 3:
            found = Part(value[0], value[1], value[2])
        elif identifier == _CONCATENATED_16BIT and size == 4:
            found = Part(int.from_bytes(value[:2], "big"), value[2], value[3])
        else:
            continue
        # 23.040: an element with no parts, or a number beyond them, is to be ignored
        if 1 <= found.number <= found.total:
            part = found
    return part, body
