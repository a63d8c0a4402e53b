"""The widget's files, read once from the package, with what each is served with.

The files ship inside the package (`static/`, package data), so a wheel carries them and
nothing is built at install time. They are read into memory when the router is made: a
request names a file from that table or nothing, so no request reaches the file system
(no path traversal to guard against) and every answer is the same bytes with one ETag.

Caching. Embedding pages keep the entry script's URL for ever, so `widget-script.js` is
`no-cache`: every page load revalidates it (a 304 when nothing changed), and an upgrade
of Cascade reaches every page at once. The entry script loads everything else from
`v/{version}/…`, where `version` is a digest of all the files: those URLs never change
meaning, so they are cached for a year as immutable. A page holding an older entry script
asks for an older version; it gets today's files, marked `no-cache`, rather than a 404.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

ENTRY = "widget-script.js"
VERSION_MARK = "__CASCADE_WIDGET_VERSION__"  # replaced in the entry script as it is served

# Litestar adds `; charset=utf-8` to text types
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
}

REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str  # quoted, as the header carries it


def _walk(root: Traversable, prefix: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for entry in root.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, f"{name}/"))
        elif any(name.endswith(ext) for ext in CONTENT_TYPES):
            found[name] = entry.read_bytes()
    return found


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _asset(name: str, body: bytes) -> Asset:
    ext = name[name.rfind(".") :]
    return Asset(body, CONTENT_TYPES[ext], _etag(body))


@dataclass(frozen=True, slots=True)
class Assets:
    """Every file by its path under `static/`, and the version they make together."""

    version: str
    by_path: dict[str, Asset]

    @classmethod
    def load(cls, root: Traversable | None = None) -> Assets:
        raw = _walk(root or files(__package__).joinpath("static"))
        if ENTRY not in raw:
            raise RuntimeError(f"the widget's {ENTRY} is missing from the package")
        digest = hashlib.sha256()
        for name in sorted(raw):
            digest.update(name.encode() + b"\0" + raw[name] + b"\0")
        version = digest.hexdigest()[:16]
        raw[ENTRY] = raw[ENTRY].replace(VERSION_MARK.encode(), version.encode())
        return cls(version, {name: _asset(name, body) for name, body in raw.items()})

    def find(self, path: str) -> tuple[Asset, str] | None:
        """The file a request path (after the widget's prefix) names, with its
        Cache-Control; None for no such file."""
        path = path.lstrip("/")
        if path.startswith("v/"):
            version, _, rest = path[2:].partition("/")
            asset = self.by_path.get(rest) if rest != ENTRY else None
            if asset is None:
                return None
            return asset, IMMUTABLE if version == self.version else REVALIDATE
        asset = self.by_path.get(path)
        return (asset, REVALIDATE) if asset is not None else None
