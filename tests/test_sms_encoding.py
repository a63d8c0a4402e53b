"""GSM-7 / UCS-2 choice, segment counting and the concatenation UDH, table by table."""

from __future__ import annotations

import pytest

from cascade.channels.sms import encoding
from cascade.channels.sms.encoding import Concatenation

CYRILLIC_200 = ("Ваше замовлення №12345 підтверджено, дякуємо! " * 5)[:200]


def test_the_default_alphabet_has_128_codes_with_esc_at_0x1b() -> None:
    assert len(encoding.GSM7_BASIC) == 128
    assert encoding.GSM7_BASIC[encoding.ESC] == "\x1b"
    assert len(set(encoding.GSM7_BASIC)) == 128
    assert not set(encoding.GSM7_BASIC) & set(encoding.GSM7_EXTENSION)


@pytest.mark.parametrize(
    ("text", "alphabet"),
    [
        ("Your order #12345 has been confirmed", "gsm7"),
        ("", "gsm7"),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", "gsm7"),
        ("line\nbreak\rreturn", "gsm7"),
        ("{braces} [brackets] ~tilde| ^caret \\ €5", "gsm7"),
        ("Привіт", "ucs2"),
        ("ç", "ucs2"),  # only the capital Ç is in the table
        ("`backtick`", "ucs2"),
        ("Grüße aus Köln", "gsm7"),
        ("naïve", "ucs2"),
        ("ok 😀", "ucs2"),
        ("Ünïcode", "ucs2"),
    ],
)
def test_alphabet_choice(text: str, alphabet: str) -> None:
    assert encoding.alphabet(text) == alphabet
    assert encoding.is_gsm7(text) is (alphabet == "gsm7")


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("abc", 3),
        ("€", 2),
        ("{}[]~|^\\\f€", 20),  # every extension character costs two septets
        ("a€b", 4),
        ("Привет", 6),
        ("😀", 2),  # a surrogate pair in UTF-16
        ("ж😀", 3),
    ],
)
def test_units(text: str, units: int) -> None:
    assert encoding.units(text) == units


def test_units_of_a_non_gsm_text_in_gsm7_is_an_error() -> None:
    with pytest.raises(ValueError, match="GSM-7"):
        encoding.units("Привет", "gsm7")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 1, 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # 160 septets
        ("€" * 80 + "a", 2),  # 161 septets
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("a" * 159 + "ж", 3),  # one Cyrillic letter makes the whole text UCS-2
        (CYRILLIC_200, 3),
    ],
)
def test_segment_counts(text: str, parts: int) -> None:
    assert encoding.count(text) == parts
    pieces = encoding.split(text)
    assert "".join(pieces) == text
    assert len(pieces) == parts


def test_gsm7_parts_hold_153_septets() -> None:
    pieces = encoding.split("a" * 307)
    assert [len(piece) for piece in pieces] == [153, 153, 1]


def test_ucs2_parts_hold_67_units() -> None:
    assert [len(piece) for piece in encoding.split(CYRILLIC_200)] == [67, 67, 66]


def test_an_extension_character_is_never_split_from_its_escape() -> None:
    pieces = encoding.split("a" * 152 + "€" + "b" * 10)
    assert pieces[0] == "a" * 152  # 152 + 2 would be 154 > 153
    assert pieces[1].startswith("€")
    assert all(encoding.units(piece, "gsm7") <= 153 for piece in pieces)


def test_a_surrogate_pair_is_never_split() -> None:
    pieces = encoding.split("ж" * 66 + "😀" + "ж" * 10)
    assert pieces[0] == "ж" * 66  # 66 + 2 would be 68 > 67
    assert pieces[1].startswith("😀")


def test_cyrillic_200_chars_is_ucs2_in_3_parts_with_one_reference() -> None:
    assert len(CYRILLIC_200) == 200
    segments = encoding.segment(CYRILLIC_200, reference=0x2A)
    assert segments.alphabet == "ucs2"
    assert segments.count == 3
    assert segments.data_coding == 0x08
    assert segments.esm_class == 0x40
    assert segments.label == "UCS-2, 3 parts"
    for number, (payload, piece) in enumerate(
        zip(segments.payloads, segments.texts, strict=True), start=1
    ):
        assert payload[:6] == bytes((0x05, 0x00, 0x03, 0x2A, 0x03, number))
        assert payload[6:] == piece.encode("utf-16-be")
    assert len(segments.payloads[0]) == 6 + 134


def test_gsm7_concatenated_parts_are_unpacked_septets_after_the_udh() -> None:
    segments = encoding.segment("a" * 200, reference=7)
    assert segments.alphabet == "gsm7"
    assert segments.data_coding == 0x00
    assert [payload[:6] for payload in segments.payloads] == [
        bytes((5, 0, 3, 7, 2, 1)),
        bytes((5, 0, 3, 7, 2, 2)),
    ]
    assert segments.payloads[0][6:] == b"a" * 153
    assert len(segments.payloads[0]) == 159


def test_a_single_part_has_no_udh() -> None:
    segments = encoding.segment("Hello €", reference=9)
    assert segments.count == 1
    assert segments.esm_class == 0x00
    assert segments.payloads == (b"Hello \x1b\x65",)
    assert segments.label == "GSM-7, 1 part"


@pytest.mark.parametrize(
    ("text", "octets"),
    [
        ("@£$", b"\x00\x01\x02"),
        ("Hello", b"Hello"),
        ("¤", b"\x24"),
        ("§¿à", b"\x5f\x60\x7f"),
        ("€[]", b"\x1b\x65\x1b\x3c\x1b\x3e"),
        ("\f", b"\x1b\x0a"),
    ],
)
def test_gsm7_octets(text: str, octets: bytes) -> None:
    assert encoding.encode_gsm7(text) == octets
    assert encoding.decode_gsm7(octets) == text


def test_every_gsm7_character_round_trips() -> None:
    text = encoding.GSM7_BASIC.replace("\x1b", "") + "".join(encoding.GSM7_EXTENSION)
    assert encoding.decode_gsm7(encoding.encode_gsm7(text)) == text


@pytest.mark.parametrize(
    ("octets", "text"),
    [
        (b"\x1b\x00", "?"),  # no extension character at that code
        (b"ab\x1b", "ab?"),  # a dangling escape
        (b"\x80", "?"),  # not a septet
    ],
)
def test_decoding_bad_gsm7_is_lenient(octets: bytes, text: str) -> None:
    assert encoding.decode_gsm7(octets) == text


def test_encoding_a_non_gsm_character_as_gsm7_is_an_error() -> None:
    with pytest.raises(ValueError, match="not in the GSM-7"):
        encoding.encode_gsm7("ж")


@pytest.mark.parametrize(
    ("data", "data_coding", "text"),
    [
        ("Привет".encode("utf-16-be"), 0x08, "Привет"),
        (b"caf\xe9", 0x03, "café"),
        (b"plain", 0x01, "plain"),
        (b"\x00\x1b\x65", 0x00, "@€"),
    ],
)
def test_decode_by_data_coding(data: bytes, data_coding: int, text: str) -> None:
    assert encoding.decode(data, data_coding) == text


@pytest.mark.parametrize(
    ("payload", "found", "rest"),
    [
        (bytes((5, 0, 3, 42, 3, 2)) + b"xy", Concatenation(42, 3, 2), b"xy"),
        (bytes((6, 8, 4, 0x01, 0x02, 4, 1)) + b"z", Concatenation(0x0102, 4, 1), b"z"),
        # a port-addressing IE first, then the concatenation IE
        (bytes((11, 5, 4, 0, 1, 0, 2, 0, 3, 9, 2, 1)) + b"q", Concatenation(9, 2, 1), b"q"),
        (bytes((4, 5, 2, 0, 1)) + b"no", None, b"no"),
        (b"", None, b""),
    ],
)
def test_parse_udh(payload: bytes, found: Concatenation | None, rest: bytes) -> None:
    assert encoding.parse_udh(payload) == (found, rest)


def test_parse_udh_refuses_a_header_longer_than_the_message() -> None:
    with pytest.raises(ValueError, match="longer"):
        encoding.parse_udh(bytes((9, 0, 3)))


@pytest.mark.parametrize(("reference", "total", "sequence"), [(256, 2, 1), (1, 2, 3), (1, 0, 0)])
def test_udh_refuses_impossible_values(reference: int, total: int, sequence: int) -> None:
    with pytest.raises(ValueError, match=r"reference|sequence"):
        encoding.udh(reference, total, sequence)


def test_more_than_255_parts_cannot_be_concatenated() -> None:
    with pytest.raises(ValueError, match="255"):
        encoding.segment("a" * (153 * 255 + 1), reference=1)
