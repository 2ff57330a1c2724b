"""The TLS settings of mmo's HTTP client: httpx's own, with the trusted roots loaded when the
first TLS connection is made rather than when the client is.

Loading the roots (certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, as httpx
does) takes 25-45 ms, a tenth of ``mmo ask``'s start-up, and a call to a local server
(``http://127.0.0.1``: Ollama, vLLM, llama.cpp) never needs them. Nothing else changes:
certificates and host names are verified as by ``ssl.create_default_context``, and a root
file that cannot be read fails the connection that needed it (an ``ssl.SSLError``, which the
client reports as a connection failure).
"""

from __future__ import annotations

import os
import ssl
import sys
from typing import Any, Mapping


class DeferredTrustContext(ssl.SSLContext):
    """A client context (``PROTOCOL_TLS_CLIENT``: hostname checked, certificate required) whose
    trusted roots are loaded just before its first TLS connection."""

    _roots: tuple[str | None, str | None]  # (cafile, capath); (None, None): certifi's bundle
    _loaded: bool

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # asyncio and anyio connect with this
        self._load_roots()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # blocking sockets
        self._load_roots()
        return super().wrap_socket(*args, **kwargs)

    def _load_roots(self) -> None:
        if self._loaded:
            return
        cafile, capath = self._roots
        if cafile is None and capath is None:
            import certifi

            cafile = certifi.where()
        try:
            self.load_verify_locations(cafile=cafile, capath=capath)
        except OSError as error:
            raise ssl.SSLError(f"cannot load the trusted certificates from {cafile or capath}: {error}") from error
        self._loaded = True


def deferred_trust_context(environ: Mapping[str, str] | None = None) -> DeferredTrustContext:
    """The context httpx would make with ``verify=True`` (roots from ``SSL_CERT_FILE``, else
    ``SSL_CERT_DIR``, else certifi), with the roots deferred; ``SSLKEYLOGFILE`` as the standard
    library honours it."""
    env = os.environ if environ is None else environ
    context = DeferredTrustContext(ssl.PROTOCOL_TLS_CLIENT)
    if env.get("SSL_CERT_FILE"):
        context._roots = (env["SSL_CERT_FILE"], None)
    elif env.get("SSL_CERT_DIR"):
        context._roots = (None, env["SSL_CERT_DIR"])
    else:
        context._roots = (None, None)
    context._loaded = False
    if sys.version_info >= (3, 13):  # as create_default_context sets them from 3.13 on
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
    keylog = env.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog
    return context
