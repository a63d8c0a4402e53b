"""Sample media for the sandbox: the image, video and PDF the README's core-API examples
name, served by `cascade up` beside the simulators (`/media/{name}`, loopback).

Viber and RBM fetch a message's media from its URL before they take the message, and so
do the simulators (`media.py`): a demo message needs media they can reach without the
internet. Each file is made here, small and well-formed for its type: a PNG image (its
chunks and checksums as the format says), a one-page PDF with its cross-reference table,
and an MP4 container (`ftyp` and `free` boxes, no tracks: the services check a video's
type and length, not its frames). Each is answered with its type and `Content-Length`, as
Viber wants of a video's host.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

from litestar import Litestar, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

PATH: Final = "/media"


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour: 8-bit RGB, each row unfiltered."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = (b"\x00" + bytes(rgb) * width) * height
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pdf(line: str) -> bytes:
    """A one-page PDF showing `line` (ASCII, no parentheses or backslashes)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({line}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _mp4() -> bytes:
    """An MP4 container: its `ftyp` box (brand isom) and a `free` box of padding."""
    brands = b"isom" + struct.pack(">I", 512) + b"isomiso2mp41"
    ftyp = struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands
    padding = bytes(1024)
    return ftyp + struct.pack(">I", 8 + len(padding)) + b"free" + padding


# name -> (content type, bytes)
SAMPLES: Final[dict[str, tuple[str, bytes]]] = {
    "sale.png": ("image/png", _png(400, 200, (230, 57, 70))),
    "thumb.png": ("image/png", _png(120, 90, (29, 53, 87))),
    "promo.mp4": ("video/mp4", _mp4()),
    "invoice.pdf": ("application/pdf", _pdf("Invoice 12345: 42.00 EUR")),
}


def create_app() -> Litestar:
    @get(f"{PATH}/{{name:str}}", media_type="application/octet-stream")
    async def sample(name: FromPath[str]) -> Response[bytes]:
        found = SAMPLES.get(name)
        if found is None:
            raise NotFoundException()
        kind, content = found
        return Response(content, media_type=kind)

    return Litestar(
        logging_config=None,  # the process's own logging stands (`cascade up`: text or JSON)
        route_handlers=[sample],
        openapi_config=None,
    )
