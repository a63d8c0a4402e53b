"""How a text becomes SMS segments: the alphabet, the count, the concatenation header.

Pure functions, no I/O. A text goes as GSM-7 (3GPP TS 23.038 default alphabet, with the
extension table reached through ESC, so each extension character costs two septets) when
every character is in those tables, else as UCS-2 (UTF-16 big-endian code units; a
character outside the BMP costs two units and is never split between segments).

One segment carries 160 septets or 70 UCS-2 units. A longer text is cut into segments of
153 septets or 67 units, each prefixed by the 6-octet concatenation UDH
(`05 00 03 ref total seq`, the 8-bit-reference information element), and submitted with
the UDHI bit (0x40) in `esm_class`. GSM-7 goes unpacked, one septet per octet, as SMPP
`data_coding` 0 expects; the SMSC packs it for the air interface.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Alphabet = Literal["gsm7", "ucs2"]

# The GSM 7-bit default alphabet, in code order (0x1B is the escape to the extension table).
GSM7_BASIC = (
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1b\u00c6\u00e6\u00df\u00c9"
    " !\"#\u00a4%&'()*+,-./"
    "0123456789:;<=>?"
    "\u00a1ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"
    "\u00bfabcdefghijklmno"
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"
)
ESC = 0x1B
# The extension table: character -> code sent after ESC.
GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "\u20ac": 0x65,  # euro sign
}

_BASIC_CODE = {char: code for code, char in enumerate(GSM7_BASIC) if code != ESC}
_EXTENSION_CHAR = {code: char for char, code in GSM7_EXTENSION.items()}
# The same tables in the shapes str.translate and set operations take, so that whole
# texts are checked, counted and converted in C rather than character by character.
_GSM7_CHARS = frozenset(_BASIC_CODE) | frozenset(GSM7_EXTENSION)
_EXTENSION_CHARS = frozenset(GSM7_EXTENSION)
_TO_GSM7 = str.maketrans(
    {char: chr(code) for char, code in _BASIC_CODE.items()}
    | {char: chr(ESC) + chr(code) for char, code in GSM7_EXTENSION.items()}
)
_FROM_GSM7 = {code: (GSM7_BASIC[code] if code < len(GSM7_BASIC) else "?") for code in range(256)}

DATA_CODING = {"gsm7": 0x00, "ucs2": 0x08}  # SMPP data_coding: SMSC default alphabet, UCS-2
UDHI = 0x40  # esm_class bit: short_message starts with a user data header

SINGLE = {"gsm7": 160, "ucs2": 70}  # units in a lone segment
CONCATENATED = {"gsm7": 153, "ucs2": 67}  # units in a segment that carries the 6-octet UDH
MAX_SEGMENTS = 255  # the UDH counts segments in one octet


def is_gsm7(text: str) -> bool:
    """Whether every character of `text` is in the GSM-7 basic or extension table."""
    return _GSM7_CHARS.issuperset(text)


def alphabet(text: str) -> Alphabet:
    """GSM-7 when the text allows it (it fits 160 per segment), else UCS-2."""
    return "gsm7" if is_gsm7(text) else "ucs2"


def _char_units(char: str, alpha: Alphabet) -> int:
    if alpha == "gsm7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def units(text: str, alpha: Alphabet | None = None) -> int:
    """Septets (GSM-7, extension characters count two) or UTF-16 code units (UCS-2)."""
    chosen = alpha or alphabet(text)
    if chosen == "ucs2":
        return len(text.encode("utf-16-le")) // 2
    if not is_gsm7(text):
        raise ValueError("text has characters outside the GSM-7 tables")
    if _EXTENSION_CHARS.isdisjoint(text):
        return len(text)
    return len(text) + sum(1 for char in text if char in _EXTENSION_CHARS)


def split(text: str, alpha: Alphabet | None = None) -> list[str]:
    """The text cut into the segments it goes out as (one, or 153/67-unit pieces).

    A segment never ends between an escape and its extension character, nor between the
    two halves of a surrogate pair: such a character moves whole to the next segment.
    """
    chosen = alpha or alphabet(text)
    if units(text, chosen) <= SINGLE[chosen]:
        return [text]
    room = CONCATENATED[chosen]
    pieces: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(text):
        cost = _char_units(char, chosen)
        if used + cost > room:
            pieces.append(text[start:index])
            start, used = index, 0
        used += cost
    pieces.append(text[start:])
    return pieces


def count(text: str) -> int:
    """How many segments `text` goes out as."""
    return len(split(text))


def encode_gsm7(text: str) -> bytes:
    """Unpacked GSM-7: one septet per octet, extension characters as ESC + code."""
    if not is_gsm7(text):
        stray = next(char for char in text if char not in _GSM7_CHARS)
        raise ValueError(f"{stray!r} is not in the GSM-7 tables")
    return text.translate(_TO_GSM7).encode("latin-1")


def decode_gsm7(data: bytes) -> str:
    """Unpacked GSM-7 back to text; an unknown code or a dangling ESC becomes '?'."""
    if ESC not in data:
        return data.decode("latin-1").translate(_FROM_GSM7)
    out: list[str] = []
    escaped = False
    for byte in data:
        if escaped:
            out.append(_EXTENSION_CHAR.get(byte, "?"))
            escaped = False
        elif byte == ESC:
            escaped = True
        else:
            out.append(GSM7_BASIC[byte] if byte < len(GSM7_BASIC) else "?")
    if escaped:
        out.append("?")
    return "".join(out)


def encode(text: str, alpha: Alphabet) -> bytes:
    return encode_gsm7(text) if alpha == "gsm7" else text.encode("utf-16-be")


def decode(data: bytes, data_coding: int) -> str:
    """A short message's text from its octets and SMPP `data_coding` (no UDH)."""
    if data_coding == DATA_CODING["ucs2"]:
        return data.decode("utf-16-be", errors="replace")
    if data_coding in (0x01, 0x03):  # IA5/ASCII, Latin-1
        return data.decode("latin-1")
    return decode_gsm7(data)


def udh(reference: int, total: int, sequence: int) -> bytes:
    """The concatenation header: IE 0x00 (8-bit reference), length 3, ref, total, seq."""
    if not 0 <= reference <= 0xFF:
        raise ValueError("an 8-bit reference is 0..255")
    if not 1 <= sequence <= total <= MAX_SEGMENTS:
        raise ValueError("1 <= sequence <= total <= 255")
    return bytes((0x05, 0x00, 0x03, reference, total, sequence))


class Concatenation(msgspec.Struct, frozen=True):
    """What a concatenation UDH says: which message (by reference) and which piece."""

    reference: int
    total: int
    sequence: int


def parse_udh(payload: bytes) -> tuple[Concatenation | None, bytes]:
    """Split a UDHI short message into its concatenation info (8- or 16-bit reference IE,
    when present) and the text octets after the header."""
    if not payload:
        return None, payload
    length = payload[0]
    if len(payload) < 1 + length:
        raise ValueError("user data header longer than the message")
    header, rest = payload[1 : 1 + length], payload[1 + length :]
    found: Concatenation | None = None
    index = 0
    while index + 2 <= len(header):
        element, size = header[index], header[index + 1]
        value = header[index + 2 : index + 2 + size]
        if element == 0x00 and size == 3:
            found = Concatenation(value[0], value[1], value[2])
        elif element == 0x08 and size == 4:
            found = Concatenation(int.from_bytes(value[:2], "big"), value[2], value[3])
        index += 2 + size
    return found, rest


class Segments(msgspec.Struct, frozen=True):
    """A text ready to submit: its alphabet and the `short_message` octets of each part."""

    alphabet: Alphabet
    texts: tuple[str, ...]
    payloads: tuple[bytes, ...]  # each part's short_message, UDH included when concatenated

    @property
    def count(self) -> int:
        return len(self.payloads)

    @property
    def data_coding(self) -> int:
        return DATA_CODING[self.alphabet]

    @property
    def esm_class(self) -> int:
        return UDHI if self.count > 1 else 0x00

    @property
    def label(self) -> str:
        name = "GSM-7" if self.alphabet == "gsm7" else "UCS-2"
        return f"{name}, {self.count} part{'s' if self.count > 1 else ''}"


def segment(text: str, reference: int) -> Segments:
    """`text` as the parts to submit; `reference` ties concatenated parts together."""
    alpha = alphabet(text)
    texts = split(text, alpha)
    total = len(texts)
    if total > MAX_SEGMENTS:
        raise ValueError(f"text needs {total} segments; a concatenated SMS has at most 255")
    if total == 1:
        return Segments(alpha, (text,), (encode(text, alpha),))
    payloads = tuple(
        udh(reference, total, number) + encode(piece, alpha)
        for number, piece in enumerate(texts, start=1)
    )
    return Segments(alpha, tuple(texts), payloads)


__all__ = [
    "CONCATENATED",
    "DATA_CODING",
    "ESC",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_SEGMENTS",
    "SINGLE",
    "UDHI",
    "Alphabet",
    "Concatenation",
    "Segments",
    "alphabet",
    "count",
    "decode",
    "decode_gsm7",
    "encode",
    "encode_gsm7",
    "is_gsm7",
    "parse_udh",
    "segment",
    "split",
    "udh",
    "units",
]
