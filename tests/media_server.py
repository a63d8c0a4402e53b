"""A local web server holding the media messages name (images, a video, documents), for the
simulators to fetch as the real services do: loopback only, never the internet.

    with media_server() as media:
        url = media.url("sale.jpg")      # served 200 image/jpeg
        media.url("gone.jpg")            # not held: 404

`MEDIA` lists what it holds; `/no-length.mp4` is a video served without `Content-Length`
(a chunked answer), which Viber refuses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from litestar import Litestar, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Stream

from tests.threaded_server import ThreadedServer

# name -> (content type, bytes)
MEDIA: dict[str, tuple[str, bytes]] = {
    "sale.jpg": ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 256),
    "card.png": ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 256),
    "thumb.jpg": ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\x01" * 64),
    "promo.mp4": ("video/mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1024),
    "invoice.pdf": ("application/pdf", b"%PDF-1.4\n" + b"%" * 128),
    "report.xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"PK\x03\x04" + b"\x00" * 128,
    ),
    "notes.txt": ("text/plain", b"hello"),
    "tool.exe": ("application/octet-stream", b"MZ" + b"\x00" * 64),
}


def app() -> Litestar:
    @get("/media/{name:str}", media_type="application/octet-stream")
    async def medium(name: FromPath[str]) -> Response[bytes]:
        if name not in MEDIA:
            raise NotFoundException()
        kind, content = MEDIA[name]
        return Response(content, media_type=kind)

    @get("/no-length.mp4")
    async def chunked() -> Stream:
        async def chunks() -> AsyncIterator[bytes]:
            yield MEDIA["promo.mp4"][1]

        return Stream(chunks(), media_type="video/mp4")

    return Litestar(route_handlers=[medium, chunked], openapi_config=None)


@dataclass(frozen=True)
class MediaHost:
    base: str

    def url(self, name: str) -> str:
        return f"{self.base}/media/{name}"


@contextmanager
def media_server() -> Iterator[MediaHost]:
    with ThreadedServer(app(), name="media-server") as url:
        yield MediaHost(url)
