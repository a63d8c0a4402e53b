"""An httpx transport over aiohttp's connection pool.

httpx's own pool (httpcore) re-scans every connection for every queued request; with the
dozens of sends a worker keeps in flight that scanning, not the network, became most of
a send's cost. aiohttp's pool hands out connections in constant time. The adapters keep
httpx's API (and tests keep `httpx.MockTransport`); only the transport underneath changes.

Failures keep the meaning the delivery engine relies on (`channels/http.py`): only an
error before the request can have been written is a connect error (safe to repeat);
anything later is a read error (the provider may have acted on it).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, connections: int = 100, timeout: httpx.Timeout | None = None) -> None:
        self._connections = connections
        self._timeout = timeout or httpx.Timeout(10.0, connect=5.0)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=self._timeout.connect,
                    sock_read=self._timeout.read,
                ),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers: Any = [(k, v) for k, v in request.headers.raw]
        try:
            async with self._client().request(
                request.method,
                str(request.url),
                data=body or None,
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
                allow_redirects=False,
            ) as response:
                content = await response.read()
                return httpx.Response(
                    response.status,
                    headers=[(k, v) for k, v in response.raw_headers],
                    content=content,
                    request=request,
                )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as err:
            # no connection was made: the request cannot have left
            raise httpx.ConnectError(type(err).__name__, request=request) from err
        except TimeoutError as err:
            raise httpx.ReadTimeout(type(err).__name__, request=request) from err
        except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as err:
            raise httpx.UnsupportedProtocol(type(err).__name__, request=request) from err
        except (aiohttp.ClientError, OSError) as err:
            # connected, so the request may have been written: never a connect error
            raise httpx.ReadError(type(err).__name__, request=request) from err

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


PROVIDER_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def provider_client(
    connections: int = 100, timeout: httpx.Timeout = PROVIDER_TIMEOUT
) -> httpx.AsyncClient:
    """The one pooled HTTP client a channel uses to reach its provider (and a simulator
    to call webhooks back)."""
    return httpx.AsyncClient(
        timeout=timeout, transport=AiohttpTransport(connections=connections, timeout=timeout)
    )
