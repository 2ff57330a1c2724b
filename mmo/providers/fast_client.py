"""The HTTP client for batch runs: httpx over aiohttp, with a short path for JSON POSTs.

Plain ``httpx.AsyncClient`` collapses above about 64 concurrent connections (its pool
bookkeeping, encode/httpcore#1035), which a batch at ``-c 256`` needs. The client built here is
an ``httpx.AsyncClient`` whose connections live in one ``aiohttp`` session:

* every request the adapters make without a body to send as JSON (streams, through
  ``httpx_sse``) goes through httpx and the httpx-aiohttp transport;
* a plain ``post(url, json=..., headers=..., timeout=...)``, the one call of every non-streaming
  answer (``mmo.providers.http.post_json``, which is all a batch makes), skips httpx's request,
  cookie and stream machinery and is sent by aiohttp directly, then wrapped in an
  ``httpx.Response``. Measured at -c 256 against the loopback server (20,000 rows): httpx over
  httpx-aiohttp spends 0.52 CPU-ms a request, raw aiohttp 0.21; ``mmo batch`` went from
  ~1,000 rows/s at 0.95 CPU-ms a row to ~1,700 at 0.55 with this path.

What else this module takes care of:

* aiohttp costs ~140 ms of import: it is imported when the client sends its first request, never
  on ``mmo ask``'s path, nor in a batch answered wholly from the cache;
* the connection limit is the batch's concurrency (httpx-aiohttp's default is 100);
* errors are classified as httpx classifies them, so ``transport_error`` maps them alike: a
  dropped connection is ``httpx.RemoteProtocolError`` ("connection dropped ...") and a refused
  connect ``httpx.ConnectError``, both a ``ConnectionFailed``; only a real connect timeout is
  ``httpx.ConnectTimeout`` (a ``Timeout``). httpx-aiohttp itself reports all three as
  ``ConnectTimeout``; ``DropAwareTransport`` corrects that on the httpx path;
* a client given a transport ignores ``HTTP(S)_PROXY``: ``proxy_mounts`` reads them (and
  ``ALL_PROXY``, ``NO_PROXY``) from the environment the session was opened with, with httpx's own
  rules, and mounts a proxied transport per scheme; with a proxy set, every request takes the
  httpx path, which honours the mounts.

Timeouts, headers and redirects are those of ``mmo.providers.http.make_client``; bodies are read
within the provider's transport limits as there (``mmo.providers.bounded_body``): aiohttp never
inflates a body itself (``auto_decompress=False``), on the direct path or through httpx-aiohttp.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping

import httpx

from mmo.core.transport_limits import DEFAULT_TRANSPORT_LIMITS, TransportLimits
from mmo.providers.bounded_body import AnswersInFlight, check_declared_length, read_bounded
from mmo.providers.http import CLIENT_HEADERS, call_timeout
from mmo.providers.light_http import json_body

if TYPE_CHECKING:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

DEFAULT_TIMEOUT_S = 60.0  # as make_client: for a call that sets no timeouts (mmo's own set theirs: http.call_timeout)
KEEPALIVE_S = 5.0  # as httpx: an idle connection is closed after this long
_PROXY_SCHEMES = ("http", "https", "all")
_UNSET = httpx.USE_CLIENT_DEFAULT


def batch_client_factory(concurrency: int, environ: Mapping[str, str]) -> Callable[[], httpx.AsyncClient]:
    """A builder of the one HTTP client a batch shares, sized for ``concurrency`` connections
    and honouring the proxies set in ``environ``. Pass it to ``open_session(client_factory=)``;
    the client is built on first use, inside the running event loop."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=KEEPALIVE_S)
    mounts_spec = proxy_mounts(environ)

    def build() -> httpx.AsyncClient:
        shared = SharedSession(concurrency)

        def transport(proxy: str | None = None) -> httpx.AsyncBaseTransport:
            return DropAwareTransport(lambda: _aiohttp_transport(limits, proxy, None if proxy else shared.get))

        mounts: dict[str, httpx.AsyncBaseTransport | None] = {
            pattern: (transport(proxy) if proxy is not None else None) for pattern, proxy in mounts_spec.items()
        }
        return BatchClient(
            None if mounts_spec else shared,
            transport=transport(),
            mounts=mounts,
            limits=limits,
            timeout=httpx.Timeout(DEFAULT_TIMEOUT_S),
            headers=CLIENT_HEADERS,
            follow_redirects=False,
        )

    return build


# --- the client ----------------------------------------------------------------------------------


class SharedSession:
    """The one aiohttp session (and connection pool) of a batch client, made on first use."""

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            # The certificates httpx would use (certifi, or SSL_CERT_FILE / SSL_CERT_DIR).
            connector = aiohttp.TCPConnector(limit=self._concurrency, keepalive_timeout=KEEPALIVE_S, ssl=httpx.create_ssl_context())
            # Bodies are decoded by ``bounded_body``, within the size limit: aiohttp must not inflate them.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class BatchClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose JSON POSTs go straight to aiohttp (see the module docstring).
    Any other call, or any POST with more than a JSON body, headers and a timeout, is httpx's."""

    def __init__(self, fast: SharedSession | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fast = fast
        self._default_headers = {key.lower(): value for key, value in self.headers.items()}
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}
        self._in_flight = AnswersInFlight()  # decoded bytes every answer being read holds, together

    async def post(  # type: ignore[override]
        self,
        url: httpx.URL | str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = _UNSET,
        **other: Any,
    ) -> httpx.Response:
        if self._fast is None or json is None or any(value not in (None, _UNSET) for value in other.values()):
            return await super().post(url, json=json, headers=headers, timeout=timeout, **other)
        status, answer_headers, content = await self._post_directly(url, json, headers, timeout, DEFAULT_TRANSPORT_LIMITS.max_response_bytes)
        answer_headers.pop("content-encoding", None)  # the content is decoded already
        return httpx.Response(status, headers=answer_headers, content=content)

    async def post_json_answer(
        self, url: httpx.URL | str, *, json: Any, headers: Mapping[str, str] | None = None, limits: TransportLimits
    ) -> tuple[int, httpx.Headers, bytes] | None:
        """``post(url, json=...)`` without building an ``httpx.Response``: the status, headers
        and body of the answer, decoded (``Content-Encoding`` undone) and of at most the limits'
        ``max_response_bytes`` (``bounded_body``), with their timeouts; or ``None`` when the
        direct path is off (a proxy is set) and the caller must send it through httpx."""
        if self._fast is None:
            return None
        return await self._post_directly(url, json, headers, call_timeout(limits), limits.max_response_bytes)

    async def _post_directly(
        self, url: httpx.URL | str, json: Any, headers: Mapping[str, str] | None, timeout: Any, max_bytes: int
    ) -> tuple[int, httpx.Headers, bytes]:
        assert self._fast is not None
        merged = {**self._default_headers, **{key.lower(): value for key, value in (headers or {}).items()}}
        merged["content-type"] = "application/json"
        session, timeouts = self._fast.get(), self._aiohttp_timeout(timeout)
        return await post_json_directly(session, str(url), json_body(json), merged, timeouts, max_bytes, self._in_flight)

    def _aiohttp_timeout(self, timeout: Any) -> aiohttp.ClientTimeout:
        chosen = self.timeout if timeout is _UNSET else httpx.Timeout(timeout)
        key = (chosen.connect, chosen.read, chosen.pool)
        found = self._timeouts.get(key)
        if found is None:
            import aiohttp

            # As httpx-aiohttp maps them: connect, each read, and the wait for a free connection.
            found = aiohttp.ClientTimeout(sock_connect=chosen.connect, sock_read=chosen.read, connect=chosen.pool)
            self._timeouts[key] = found
        return found

    async def aclose(self) -> None:
        await super().aclose()
        if self._fast is not None:
            await self._fast.aclose()




async def post_json_directly(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    max_bytes: int,
    shared: AnswersInFlight,
) -> tuple[int, httpx.Headers, bytes]:
    """One POST by aiohttp: the answer's status, headers and body (decoded, at most
    ``max_bytes``: ``bounded_body.LimitExceeded`` past that), failing with the httpx error that
    says what happened."""
    try:
        async with session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False) as answer:
            content = await _read_answer(answer, max_bytes, shared)
    except Exception as error:
        translated = httpx_error(error)
        if translated is None:
            raise
        raise translated from error
    return answer.status, httpx.Headers(answer.raw_headers), content


async def _read_answer(answer: aiohttp.ClientResponse, max_bytes: int, shared: AnswersInFlight) -> bytes:
    """The body within ``max_bytes`` and ``shared``. A small plain body whose declared length fits
    (the usual answer) is read in one go; any other is counted and decoded chunk by chunk."""
    headers = answer.headers
    check_declared_length(headers, max_bytes)
    declared = headers.get("content-length", "")
    if "content-encoding" not in headers and declared.isdigit() and int(declared) <= shared.free_per_answer:
        return await answer.read()
    return await read_bounded(answer.content.iter_any(), headers, max_bytes, shared)


# --- errors --------------------------------------------------------------------------------------


def httpx_error(error: BaseException) -> httpx.TransportError | None:
    """The httpx error an aiohttp failure amounts to, or ``None`` for anything else."""
    import aiohttp

    detail = str(error) or type(error).__name__
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(detail)
    if isinstance(error, (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError, TimeoutError)):
        return httpx.ReadTimeout(detail)
    if isinstance(error, aiohttp.ClientConnectorError):
        return httpx.ConnectError(f"could not connect: {detail}")
    if isinstance(error, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return httpx.UnsupportedProtocol(detail)
    if isinstance(error, aiohttp.ClientPayloadError):
        return httpx.ReadError(detail)
    if isinstance(error, aiohttp.ClientResponseError):
        return httpx.RemoteProtocolError(f"malformed HTTP answer: {detail}")
    if isinstance(error, (aiohttp.ClientConnectionError, ConnectionError)):
        return httpx.RemoteProtocolError(f"connection dropped before the answer was complete: {detail}")
    return None


def _aiohttp_transport(limits: httpx.Limits, proxy: str | None, session: Callable[[], aiohttp.ClientSession] | None) -> AiohttpTransport:
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport(limits=limits, proxy=httpx.Proxy(proxy) if proxy else None, client=session)


class DropAwareTransport(httpx.AsyncBaseTransport):
    """An httpx-aiohttp transport whose errors mean what httpx's mean (it reports a drop, a
    refused connect and a connect timeout all as ``ConnectTimeout``). The transport is built on
    the first request, so a batch answered from the cache never imports aiohttp."""

    def __init__(self, make_inner: Callable[[], AiohttpTransport]) -> None:
        self._make_inner = make_inner
        self._inner: AiohttpTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = self._make_inner()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.ConnectTimeout as error:
            raise _reclassified(error) from error.__cause__
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _ClassifiedStream(stream)
        return response

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


class _ClassifiedStream(httpx.AsyncByteStream):
    """A response body whose read errors are classified the same way (a drop mid-body)."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.ConnectTimeout as error:
            raise _reclassified(error) from error.__cause__

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except httpx.ConnectTimeout as error:
            raise _reclassified(error) from error.__cause__


def _reclassified(error: httpx.ConnectTimeout) -> httpx.TransportError:
    """httpx-aiohttp maps every ``aiohttp.ClientConnectionError`` to ``ConnectTimeout``; its
    cause (the aiohttp error) says what really happened."""
    cause = error.__cause__
    return (httpx_error(cause) if cause is not None else None) or error


# --- proxies -------------------------------------------------------------------------------------


def environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """``{"http": URL, "https": URL, "all": URL, "no": "host,host"}`` from ``*_PROXY`` variables,
    as ``urllib.request.getproxies_environment`` reads them: the lower-case spelling wins, and
    ``HTTP_PROXY`` is ignored in a CGI request (``REQUEST_METHOD`` set), where a client can set it."""
    found: dict[str, str] = {}
    for lower_case_wins in (False, True):
        for name, value in environ.items():
            if value and name.lower().endswith("_proxy") and (name == name.lower()) == lower_case_wins:
                found[name.lower()[: -len("_proxy")]] = value
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    return found


def proxy_mounts(environ: Mapping[str, str]) -> dict[str, str | None]:
    """httpx mount patterns -> proxy URL, or ``None`` for hosts ``NO_PROXY`` exempts: the rules of
    httpx's own ``get_environment_proxies`` (``NO_PROXY=*`` turns proxies off; ``.example.com``
    exempts sub-domains, ``example.com`` the domain too), read from ``environ`` instead of the
    process environment."""
    proxies = environment_proxies(environ)
    mounts: dict[str, str | None] = {}
    for scheme in _PROXY_SCHEMES:
        url = proxies.get(scheme)
        if url:
            mounts[f"{scheme}://"] = url if "://" in url else f"http://{url}"
    for host in (h.strip() for h in proxies.get("no", "").split(",")):
        if host == "*":
            return {}
        if host:
            mounts[_no_proxy_pattern(host)] = None
    return mounts


def _no_proxy_pattern(host: str) -> str:
    if "://" in host:
        return host
    if _is_ip(host, ipaddress.IPv4Address) or host.lower() == "localhost":
        return f"all://{host}"
    if _is_ip(host, ipaddress.IPv6Address):
        return f"all://[{host}]"
    return f"all://*{host}"


def _is_ip(host: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        kind(host.split("/")[0])
    except ValueError:
        return False
    return True
