"""SigV4 canonicalisation as S3 does it, and the HMAC chain.

S3 differs from the generic SigV4 rules in two ways that matter here: the
path is encoded exactly once (no double encoding) and is never normalised
(`/a/../b` and `//` are object-key characters, not path syntax). Everything
else follows the published algorithm: unreserved characters `A-Za-z0-9-._~`
stay, every other UTF-8 byte becomes `%XX` in upper case, query pairs are
sorted by encoded name then value, header values are trimmed with inner
whitespace runs collapsed.

No function here logs or embeds secrets in exceptions.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from s3gate import errors

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def uri_encode(value: str, *, encode_slash: bool = True) -> str:
    # urllib's quote always keeps exactly A-Za-z0-9 and `_.-~` (ASCII only), encodes
    # over UTF-8 and uses upper-case hex: the AWS UriEncode() rules.
    return quote(value, safe="" if encode_slash else "/")


def canonical_uri(raw_path: bytes) -> str:
    """The S3 canonical URI of a path exactly as it came off the wire."""
    if not raw_path:
        return "/"
    # Decode once, then re-encode every byte: clients differ in which characters
    # they escape (`!`, `'`, `(`, `*` ...) but all sign the same key bytes.
    # quote_from_bytes works on raw bytes, so an undecodable key still canonicalises.
    return quote_from_bytes(unquote_to_bytes(raw_path), safe="/")


def parse_query(raw_query: bytes) -> list[tuple[bytes, bytes]]:
    """Raw `a=b&c` pairs, percent-decoded; `+` stays `+` (S3 does not treat it as a space)."""
    pairs: list[tuple[bytes, bytes]] = []
    if not raw_query:
        return pairs
    for piece in raw_query.split(b"&"):
        if not piece:
            continue  # `a=1&&b=2` and a trailing `&` carry no parameter
        name, _, value = piece.partition(b"=")
        pairs.append((unquote_to_bytes(name), unquote_to_bytes(value)))
    return pairs


def canonical_query(raw_query: bytes, *, drop: str | None = None) -> str:
    dropped = drop.encode() if drop is not None else None
    encoded = [
        (quote_from_bytes(name, safe=""), quote_from_bytes(value, safe=""))
        for name, value in parse_query(raw_query)
        if name != dropped
    ]
    # Encoded strings are ASCII, so str ordering is the byte ordering AWS specifies.
    encoded.sort()
    return "&".join(f"{name}={value}" for name, value in encoded)


def canonical_headers(headers: Sequence[tuple[str, str]], signed: Sequence[str]) -> str:
    """The CanonicalHeaders block: one `name:value\\n` line per signed header.

    Repeated headers are joined with `,` in arrival order. Values are trimmed and
    runs of whitespace collapsed to one space; `str.split()` is used because that is
    exactly what botocore does, so the two agree even on unusual whitespace.
    """
    wanted = set(signed)
    found: dict[str, list[str]] = {}
    for name, value in headers:
        if name in wanted:
            found.setdefault(name, []).append(" ".join(value.split()))
    lines = []
    for name in signed:
        values = found.get(name)
        if values is None:
            # The client claims to have signed a header we did not receive.
            raise errors.SignatureDoesNotMatch()
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    uri: str,
    query: str,
    headers_block: str,
    signed: Sequence[str],
    payload_hash: str,
) -> str:
    # headers_block already ends with "\n", which yields the blank line AWS specifies.
    return f"{method}\n{uri}\n{query}\n{headers_block}\n{';'.join(signed)}\n{payload_hash}"


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    # Four HMACs per request add up on the hot path; a key is valid for one
    # (secret, day, region, service), so a small bounded cache removes them.
    k_date = _hmac(("AWS4" + secret).encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "aws4_request")


def hmac_hex(key: bytes, msg: str) -> str:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).hexdigest()
