"""Where an S3 request goes: endpoint, addressing style, and exact URL encoding.

Keys are encoded the way botocore encodes them (`quote(key, safe="/~")` on
the UTF-8 bytes): every byte except unreserved characters and `/` becomes
`%XX`, so spaces, `+`, `%`, `?`, `#` and non-ASCII survive, and `a//b`, a
leading `/` or a trailing `/` stay as they are (S3 does not normalise object
paths). The URL we build is the URL we sign and the URL we send; nothing
re-encodes it on the way (see `yarl.URL(..., encoded=True)` in http.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from s3gate.configbase import ConfigError
from s3gate.upstream.settings import UpstreamSettings

# One query parameter; a None value is sent bare (`?uploads`, `?delete`).
Query = Sequence[tuple[str, str | None]]

# Names that can be a DNS label chain. Buckets with dots only go virtual over
# plain HTTP: over TLS `a.b.s3.amazonaws.com` does not match the certificate's
# wildcard, which is also why botocore falls back to path-style for them.
_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_DNS_BUCKET_DOTS = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def encode_key(key: str) -> str:
    return quote(key, safe="/~")


def encode_query(query: Query) -> str:
    """Canonical SigV4 encoding (RFC 3986 unreserved kept), sorted, so that the
    string sent is the string botocore puts in the canonical request."""
    items = sorted((quote(k, safe="-_.~"), v) for k, v in query)
    return "&".join(k if v is None else f"{k}={quote(v, safe='-_.~')}" for k, v in items)


class Addressing:
    def __init__(self, settings: UpstreamSettings) -> None:
        endpoint = settings.endpoint_url or f"https://s3.{settings.region}.amazonaws.com"
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"upstream.endpoint_url: not an http(s) URL: {endpoint!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ConfigError(
                "upstream.endpoint_url: must not carry credentials, query or fragment"
            )
        self.scheme = parts.scheme
        self.netloc = parts.netloc  # host[:port], as it must appear in Host
        # An endpoint may live under a path (a reverse proxy mounting S3 at /s3).
        self.base_path = parts.path.rstrip("/")
        self.virtual = settings.addressing_style == "virtual"

    def _virtual_ok(self, bucket: str) -> bool:
        pattern = _DNS_BUCKET_DOTS if self.scheme == "http" else _DNS_BUCKET
        return self.virtual and pattern.match(bucket) is not None

    def url(self, bucket: str | None, key: str | None = None, query: Query = ()) -> tuple[str, str]:
        """(fully encoded URL, Host header value)."""
        host, path = self.netloc, self.base_path
        if bucket and self._virtual_ok(bucket):
            host = f"{bucket}.{host}"
        elif bucket:
            path += "/" + quote(bucket, safe="")
        if key is not None:
            path += "/" + encode_key(key)
        qs = encode_query(query)
        return f"{self.scheme}://{host}{path or '/'}{'?' + qs if qs else ''}", host
