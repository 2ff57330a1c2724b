"""TLS of mmo's HTTP client: the trusted roots are loaded at the first TLS connection, not when
the client is made (a call to a local http:// server never loads them), and verification is
what it always was: an unknown issuer or a wrong host name fails the connection,
``SSL_CERT_FILE`` names the roots. Servers here are on 127.0.0.1 with a throw-away certificate."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from mmo.providers.http import make_client
from mmo.providers.tls import deferred_trust_context

ROOT = Path(__file__).resolve().parent.parent


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (IP address only), and its key."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mmo test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 answering ``ok`` to each connection, for at most 10 connections."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        for _ in range(600):  # at most 30 s
            if stop.is_set():
                return
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            raw.settimeout(5)
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            except (OSError, ssl.SSLError):
                raw.close()  # the client refused our certificate

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], cert_file
    finally:
        stop.set()
        thread.join(timeout=15)
        listener.close()


def get(url: str) -> str:
    async def once() -> str:
        client = make_client()
        try:
            return (await client.get(url, timeout=10)).text
        finally:
            await client.aclose()

    return asyncio.run(once())


def test_the_roots_named_by_ssl_cert_file_are_trusted(tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    port, cert_file = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    assert get(f"https://127.0.0.1:{port}/") == "ok"


def test_an_unknown_issuer_or_another_host_name_fails_the_connection(tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    port, cert_file = tls_server
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get(f"https://127.0.0.1:{port}/")  # certifi's roots do not include our certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get(f"https://localhost:{port}/")  # trusted, but issued for 127.0.0.1 only


def test_an_unreadable_root_file_fails_the_tls_connection_only(tls_server: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port, _ = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    make_client()  # making the client does not read it
    with pytest.raises(httpx.ConnectError, match="missing.pem"):
        get(f"https://127.0.0.1:{port}/")


def test_the_roots_are_loaded_at_the_first_tls_connection() -> None:
    context = deferred_trust_context({})
    assert context.cert_store_stats()["x509_ca"] == 0
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="example.com")
    assert context.cert_store_stats()["x509_ca"] > 50  # certifi's bundle


def test_making_the_client_loads_no_roots() -> None:
    code = """
        import ssl
        loads = []
        real = ssl.SSLContext.load_verify_locations
        ssl.SSLContext.load_verify_locations = lambda self, *a, **k: (loads.append(a or k), real(self, *a, **k))[1]
        from mmo.providers.http import make_client
        make_client()
        print(len(loads))
    """
    env = {key: value for key, value in os.environ.items() if key not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
