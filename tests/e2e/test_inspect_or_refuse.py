"""Inspect or refuse, on the wire: a trace writer sends the canaries of
tests/canaries.py in every form a body can take — text encodings, content
codings, stacked and nested compression, bodies cut at awkward places — and
either the write is refused with its S3 code and nothing is stored, or no
canary is in the bytes the store holds (read from moto directly and decoded
through every layer) nor in what an analyst gets back (decoded as
`curl --compressed` would, and further).

Objects written around the gateway, in the same forms, are masked on the way
out too.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import socket
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import brotli
import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.canaries import EMAIL, jsonl, leaks, record
from tests.e2e.harness import Gateway
from tests.e2e.rawhttp import sign
from tests.e2e.test_masking import BUCKET
from tests.e2e.test_masking import gw as gw  # the same fixture: a gateway of this module's own

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

MiB = 1024 * 1024
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstd.compress,
}


@pytest.fixture
def prefix() -> str:
    return f"ior{uuid.uuid4().hex[:10]}/"


def _stored(direct: Any, key: str) -> tuple[bytes, dict[str, Any]]:
    got = direct.get_object(Bucket=BUCKET, Key=key)
    return got["Body"].read(), got


def _absent(direct: Any, key: str) -> bool:
    try:
        direct.head_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        return exc.response["Error"]["Code"] in ("404", "NoSuchKey")
    return False


def _analyst_raw(gw: Gateway, key: str) -> tuple[bytes, Mapping[str, str]]:
    """The analyst's GET as bytes on the wire (no client-side decoding)."""
    request = sign(gw, "GET", f"/{BUCKET}/{key}", identity="analyst")
    prepared = request.prepare()
    http = urllib3.PoolManager()
    resp = http.request(
        "GET", prepared.url, headers=dict(prepared.headers), decode_content=False, retries=False
    )
    assert resp.status == 200, resp.data[:300]
    return resp.data, resp.headers  # case-insensitive


def _curl_compressed(body: bytes, headers: Mapping[str, str]) -> bytes:
    """What `curl --compressed` prints: the response decoded per its
    Content-Encoding (curl knows gzip, deflate, br, zstd)."""
    codings = [c.strip() for c in headers.get("Content-Encoding", "").split(",") if c.strip()]
    for coding in reversed(codings):
        body = {
            "gzip": gzip.decompress,
            "deflate": zlib.decompress,
            "br": brotli.decompress,
            "zstd": zstd.decompress,
        }[coding](body)
    return body


TEXT_FORMS: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "utf-16 json": ("application/json", lambda s: s.encode("utf-16")),
    "utf-16-be jsonl (no BOM)": ("application/x-ndjson", lambda s: s.encode("utf-16-be")),
    "utf-32 jsonl": ("application/x-ndjson", lambda s: s.encode("utf-32")),
    "text charset=utf-16": ("text/plain; charset=utf-16", lambda s: s.encode("utf-16")),
    "text charset=utf-16le": ("text/plain; charset=utf-16le", lambda s: s.encode("utf-16-le")),
    "utf-8 BOM json": ("application/json", lambda s: codecs.BOM_UTF8 + s.encode()),
}


@pytest.mark.parametrize("form", sorted(TEXT_FORMS))
def test_text_encodings_are_masked_and_keep_their_encoding(
    gw: Gateway,
    direct: Any,
    prefix: str,
    form: str,
) -> None:
    ctype, encode = TEXT_FORMS[form]
    text = (
        json.dumps({"records": [record(0)]})
        if "json" in form and "jsonl" not in form
        else jsonl(3).decode()
    )
    body = encode(text)
    assert leaks(body)
    key = prefix + "trace"
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=ctype)
    at_rest, got = _stored(direct, key)
    assert leaks(at_rest) == [], form
    assert got["ContentType"] == ctype
    # Stored in the encoding it came in: it decodes the same way the original did.
    assert body[:2] == at_rest[:2]
    analyst, headers = _analyst_raw(gw, key)
    assert leaks(analyst) == [], form
    assert headers["Content-Type"] == ctype


@pytest.mark.parametrize("codings", [["deflate"], ["br"], ["zstd"], ["deflate", "gzip"]])
def test_content_codings_are_decoded_masked_and_re_encoded(
    gw: Gateway,
    direct: Any,
    prefix: str,
    codings: list[str],
) -> None:
    body = jsonl(20)
    for coding in codings:
        body = COMPRESS[coding](body)
    declared = ", ".join(codings)
    key = prefix + "trace.jsonl"
    gw.client("writer").put_object(
        Bucket=BUCKET,
        Key=key,
        Body=body,
        ContentEncoding=declared,
        ContentType="application/x-ndjson",
    )
    at_rest, got = _stored(direct, key)
    assert got["ContentEncoding"].replace(" ", "") == declared.replace(" ", "")
    assert leaks(at_rest) == []
    analyst, headers = _analyst_raw(gw, key)
    assert headers["Content-Encoding"].replace(" ", "") == declared.replace(" ", "")
    shown = _curl_compressed(analyst, headers)
    assert shown.count(b"\n") == 20 and b"tok_" in shown
    assert leaks(analyst) == [] and leaks(shown) == []


def test_gzip_inside_gzip_is_masked(gw: Gateway, direct: Any, prefix: str) -> None:
    body = gzip.compress(gzip.compress(jsonl(5)))
    key = prefix + "nested.jsonl"
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, ContentEncoding="gzip")
    at_rest, _ = _stored(direct, key)
    assert leaks(at_rest) == []
    inner = gzip.decompress(gzip.decompress(at_rest))
    assert inner.count(b"\n") == 5


def _raw_put_in_pieces(gw: Gateway, key: str, body: bytes, pieces: list[bytes]) -> bytes:
    """A signed PUT whose body leaves in the given pieces, each in its own
    TCP segment (Nagle off, a pause between them)."""
    request = sign(
        gw,
        "PUT",
        f"/{BUCKET}/{key}",
        body=body,
        identity="writer",
        headers={"Content-Length": str(len(body))},
    )
    prepared = request.prepare()
    url = urlsplit(gw.endpoint)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lines = [f"PUT {urlsplit(prepared.url).path} HTTP/1.1", f"Host: {url.netloc}"]
        lines += [f"{k}: {v}" for k, v in prepared.headers.items() if k.lower() != "host"]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for piece in pieces:
            time.sleep(0.05)
            sock.sendall(piece)
        response = b""
        while b"\r\n\r\n" not in response:
            data = sock.recv(65536)
            if not data:
                break
            response += data
    return response


@pytest.mark.parametrize("first", [1, 2, 3])
def test_undeclared_gzip_is_found_however_the_first_bytes_arrive(
    gw: Gateway,
    direct: Any,
    prefix: str,
    first: int,
) -> None:
    body = gzip.compress(jsonl(10))
    key = prefix + "split.jsonl"
    response = _raw_put_in_pieces(gw, key, body, [body[:first], body[first:]])
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    at_rest, _ = _stored(direct, key)
    assert leaks(at_rest) == [] and gzip.decompress(at_rest).count(b"\n") == 10


@pytest.mark.parametrize(
    ("body", "kwargs", "code"),
    [
        (b"x" * 100, {"ContentEncoding": "compress"}, "InvalidArgument"),
        (jsonl(1), {"ContentEncoding": "gzip, x-custom"}, "InvalidArgument"),
        (
            gzip.compress(gzip.compress(gzip.compress(gzip.compress(jsonl(1))))),
            {},
            "InvalidArgument",
        ),
        (
            b"\xff\xfe\x00\xd8" + EMAIL.encode("utf-16-le"),
            {"ContentType": "text/plain"},
            "AccessDenied",
        ),
        (jsonl(2)[:-5] + b"\xc3\x28\n", {"ContentType": "application/x-ndjson"}, "AccessDenied"),
        (brotli.compress(jsonl(3)), {"ContentType": "application/json"}, "AccessDenied"),
        (jsonl(1), {"ContentType": "text/plain; charset=x-unknown"}, "AccessDenied"),
        (jsonl(2), {"ContentType": "application/json; charset=utf-16le"}, "AccessDenied"),
    ],
    ids=[
        "compress",
        "unknown-stacked",
        "4-deep",
        "lone-surrogate",
        "bad-utf8",
        "undeclared-br",
        "unknown-charset",
        "utf8-labelled-utf16",
    ],
)
def test_what_cannot_be_inspected_is_refused_and_nothing_stored(
    gw: Gateway,
    direct: Any,
    prefix: str,
    body: bytes,
    kwargs: dict[str, str],
    code: str,
) -> None:
    key = prefix + "refused.jsonl"
    with pytest.raises(ClientError) as info:
        gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, **kwargs)
    assert info.value.response["Error"]["Code"] == code
    assert EMAIL not in info.value.response["Error"]["Message"]
    assert _absent(direct, key)


def _bomb(inflated: int) -> bytes:
    """A gzip body of concatenated members of newlines: ~1000:1."""
    member = gzip.compress(b"\n" * (64 * MiB), compresslevel=9)
    return member * (inflated // (64 * MiB))


@pytest.fixture
def healthz_during(gw: Gateway) -> Iterator[list[float]]:
    """Healthz latencies (s) sampled while the test runs."""
    samples: list[float] = []
    stop = threading.Event()
    http = urllib3.PoolManager()

    def probe() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            http.request("GET", gw.endpoint + "/_s3gate/healthz", retries=False, timeout=30)
            samples.append(time.perf_counter() - started)
            time.sleep(0.02)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    yield samples
    stop.set()
    thread.join(timeout=35)


def test_a_4_gib_gzip_bomb_is_refused_fast_and_stores_nothing(
    gw: Gateway,
    direct: Any,
    prefix: str,
    healthz_during: list[float],
) -> None:
    body = _bomb(4096 * MiB)
    assert len(body) < 8 * MiB
    key = prefix + "bomb.jsonl"
    # The profile's detector database is compiled on its first use after a
    # (re)load; that is not what this test measures.
    gw.client("writer").put_object(Bucket=BUCKET, Key=prefix + "warm.jsonl", Body=b"{}\n")
    healthz_during.clear()
    started = time.perf_counter()
    with pytest.raises(ClientError) as info:
        gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, ContentEncoding="gzip")
    elapsed = time.perf_counter() - started
    assert info.value.response["Error"]["Code"] == "EntityTooLarge"
    assert "max_inflation_ratio" in info.value.response["Error"]["Message"]
    assert elapsed < 10, elapsed
    assert _absent(direct, key)
    time.sleep(0.2)
    assert healthz_during and max(healthz_during) < 0.5, max(healthz_during)
    print(f"bomb refused in {elapsed:.2f} s; healthz max {max(healthz_during) * 1000:.0f} ms")


@pytest.mark.parametrize(
    "form",
    ["utf-16 jsonl", "deflate", "zstd", "br", "gzip in gzip", "undeclared zlib"],
)
def test_objects_written_around_the_gateway_are_masked_on_the_way_out(
    gw: Gateway,
    direct: Any,
    prefix: str,
    form: str,
) -> None:
    body, extra = {
        "utf-16 jsonl": (jsonl(3).decode().encode("utf-16"), {}),
        "deflate": (zlib.compress(jsonl(3)), {"ContentEncoding": "deflate"}),
        "zstd": (zstd.compress(jsonl(3)), {"ContentEncoding": "zstd"}),
        "br": (brotli.compress(jsonl(3)), {"ContentEncoding": "br"}),
        "gzip in gzip": (gzip.compress(gzip.compress(jsonl(3))), {"ContentEncoding": "gzip"}),
        "undeclared zlib": (zlib.compress(jsonl(3)), {}),
    }[form]
    key = prefix + "around.jsonl"
    direct.put_object(
        Bucket=BUCKET, Key=key, Body=body, ContentType="application/x-ndjson", **extra
    )
    analyst, headers = _analyst_raw(gw, key)
    assert leaks(analyst) == [], form
    assert leaks(_curl_compressed(analyst, headers)) == []
    assert hashlib.sha256(analyst).hexdigest() != hashlib.sha256(body).hexdigest()
