"""A test OIDC issuer over real HTTP, for the end-to-end identity tests.

Discovery (`/.well-known/openid-configuration`) and JWKS (`/jwks`) served by a
threaded HTTP server on a free loopback port, with keys the tests generate.
The published key set can change at any time (key rotation); fetches are
counted; `stop()` closes the listening socket, so the issuer is down exactly
as if its process had exited (HTTP/1.0: no keep-alive connection survives).

Token minting and forging reuse the helpers of the unit tests' issuer
(`tests.unit.identity.idp`), so both suites forge tokens the same way.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.unit.identity.idp import (
    AUDIENCE,
    SigningKey,
    b64json,
    forge_hs256,
    forge_none,
    make_key,
    sign,
    standard_claims,
)

__all__ = [
    "AUDIENCE",
    "Issuer",
    "SigningKey",
    "Tarpit",
    "b64json",
    "forge_hs256",
    "forge_none",
    "issuer_config",
    "make_key",
    "sign",
]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        issuer = self.server.issuer
        if self.path == "/.well-known/openid-configuration":
            body = issuer.discovery_document()
            issuer.count("discovery")
        elif self.path == "/jwks":
            body = issuer.jwks()
            issuer.count("jwks")
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, issuer: Issuer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.issuer = issuer


class Issuer:
    """An OIDC issuer at `http://127.0.0.1:<port>`; `keys` are published."""

    def __init__(self, keys: Sequence[SigningKey]) -> None:
        self._lock = threading.Lock()
        self._keys = list(keys)
        self._fetches = {"discovery": 0, "jwks": 0}
        self._server = _Server(self)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.running = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what is published ------------------------------------------------

    def publish(self, keys: Sequence[SigningKey]) -> None:
        with self._lock:
            self._keys = list(keys)

    @property
    def keys(self) -> list[SigningKey]:
        with self._lock:
            return list(self._keys)

    def discovery_document(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys]}

    def count(self, what: str) -> None:
        with self._lock:
            self._fetches[what] += 1

    @property
    def jwks_fetches(self) -> int:
        with self._lock:
            return self._fetches["jwks"]

    # -- tokens -------------------------------------------------------------

    def token(self, key: SigningKey | None = None, **claims: Any) -> str:
        """A signed token with standard claims (`sub` alice, audience s3gate,
        ten minutes); a keyword set to None removes that claim."""
        return sign(key or self.keys[0], standard_claims(self.url, **claims))

    def claims(self, **claims: Any) -> dict[str, Any]:
        return standard_claims(self.url, **claims)

    # -- life cycle -----------------------------------------------------------

    def stop(self) -> None:
        """Down: nothing listens on the port any more."""
        if self.running:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self.running = False


class Tarpit:
    """An "issuer" that accepts TCP connections and never answers: a fetch
    from it can only end by the fetcher's own timeout."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)  # the kernel completes handshakes; nobody reads
        self.port: int = self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._sock.close()


def issuer_config(name: str, url: str, **overrides: Any) -> dict[str, Any]:
    """An `identity.issuers` entry using discovery, audience `s3gate`."""
    config: dict[str, Any] = {
        "name": name,
        "issuer": url,
        "discovery": True,
        "audiences": [AUDIENCE],
    }
    config.update(overrides)
    return config
