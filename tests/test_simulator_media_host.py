"""The sandbox's sample media (`cascade up`'s media host): each file well-formed for its
type, served with its type and length, and taken by the simulators' media check."""

from __future__ import annotations

import asyncio
import re
import struct
import zlib

import httpx

from cascade.simulators.media import Fetched, MediaFetcher
from cascade.simulators.media_host import PATH, SAMPLES, create_app
from tests.threaded_server import ThreadedServer


def boxes(data: bytes) -> list[tuple[bytes, int]]:
    """An ISO BMFF file's top-level boxes: (type, size), every byte accounted for."""
    found, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        assert size >= 8
        found.append((kind, size))
        at += size
    assert at == len(data)
    return found


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks (type, data), each one's CRC checked."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    found, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        found.append((kind, body))
        at += 12 + length
    return found


def test_each_sample_is_well_formed_for_its_type() -> None:
    for name, (kind, data) in SAMPLES.items():
        if kind == "image/png":
            (_, header), (_, pixels), end = chunks(data)
            assert end == (b"IEND", b""), name
            width, height = struct.unpack(">II", header[:8])
            assert len(zlib.decompress(pixels)) == (1 + 3 * width) * height
        elif kind == "application/pdf":
            assert data.startswith(b"%PDF-1.4\n")
            assert data.endswith(b"%%EOF\n")
            xref = re.search(rb"startxref\n(\d+)\n", data)
            assert xref
            assert data[int(xref.group(1)) :].startswith(b"xref\n"), name
            offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n ", data)]
            assert [data[o:].split(b" ", 1)[0] for o in offsets] == [b"1", b"2", b"3", b"4", b"5"]
        else:
            assert kind == "video/mp4"
            assert [k for k, _ in boxes(data)] == [b"ftyp", b"free"]


def test_served_with_type_and_length_and_taken_by_the_simulators() -> None:
    with ThreadedServer(create_app(), name="media-host") as base:
        for name, (kind, data) in SAMPLES.items():
            answer = httpx.get(f"{base}{PATH}/{name}", timeout=5)
            assert answer.status_code == 200
            assert answer.headers["content-type"].split(";")[0] == kind
            assert answer.headers["content-length"] == str(len(data))
            assert answer.content == data
        assert httpx.get(f"{base}{PATH}/nothing.png", timeout=5).status_code == 404

        async def fetch_all() -> dict[str, Fetched | object]:
            fetcher = MediaFetcher()
            try:
                return {n: await fetcher.check(f"{base}{PATH}/{n}") for n in SAMPLES}
            finally:
                await fetcher.close()

        fetched = asyncio.run(fetch_all())
    for name, (kind, data) in SAMPLES.items():
        assert fetched[name] == Fetched(kind, len(data))
