"""Unauthenticated resource limits over real sockets (DESIGN invariant 8),
and the small holes around them: forged X-Forwarded-For, the credential
scope's service, paths and methods the S3 API does not route.

One gateway of its own (a short head timeout keeps the slow-header tests
short), events kept in its local spool (no shipping) so that each request's
audit event can be read back.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
import urllib3
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3gate.audit.write.segments import unframe
from tests.e2e.conftest import IDENTITIES
from tests.e2e.harness import REGION, Gateway, start_gateway
from tests.e2e.rawsock import Answer, exchange, open_connections, request_head, rss_bytes
from tests.promtext import samples

HEAD_TIMEOUT = 1.0
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def gw(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gateway = start_gateway(
        tmp_path_factory.mktemp("limits"),
        moto_endpoint,
        IDENTITIES,
        extra={
            "server": {"head_timeout_seconds": HEAD_TIMEOUT},
            # Events stay in the local spool, where the tests read them.
            "audit": {"batch_max_seconds": 3600, "batch_max_events": 100_000},
        },
    )
    yield gateway
    gateway.stop()


def port(gw: Gateway) -> int:
    return int(gw.endpoint.rsplit(":", 1)[1])


def healthz_seconds(gw: Gateway) -> float:
    started = time.monotonic()
    answer = exchange(port(gw), request_head(("connection", "close"), path="/_s3gate/healthz"))
    assert answer.status == 200, answer
    return time.monotonic() - started


def spooled_events(gw: Gateway) -> list[dict[str, Any]]:
    events = []
    for segment in sorted((gw.config_path.parent / "data" / "audit").rglob("*.log")):
        for line in segment.read_bytes().splitlines(keepends=True):
            payload = unframe(line)
            if payload is not None:
                events.append(json.loads(payload))
    return events


def events_of(gw: Gateway, request_id: str) -> list[dict[str, Any]]:
    return [e for e in spooled_events(gw) if e.get("request_id") == request_id]


def access_lines(gw: Gateway, request_id: str) -> list[dict[str, Any]]:
    found = []
    for line in gw.log().splitlines():
        if request_id in line and line.startswith("{"):
            entry = json.loads(line)
            if entry.get("request_id") == request_id:
                found.append(entry)
    return found


# Each limit: what is sent, the status and S3 code the gateway answers.
@dataclass(frozen=True)
class Row:
    data: bytes
    status: int
    code: str
    pause: float = 0.0
    piece: int = 65536


ROWS = {
    "101 headers": Row(
        request_head(*[(f"x-h{i}", "v") for i in range(100)]), 431, "RequestHeaderSectionTooLarge"
    ),
    "60,000 repeated headers": Row(
        request_head(*[("x-amz-meta-a", "v" * 84)] * 60_000), 431, "RequestHeaderSectionTooLarge"
    ),
    "one 9 KiB header": Row(
        request_head(("x-big", "v" * 9 * 1024)), 431, "RequestHeaderSectionTooLarge"
    ),
    "a 17 KiB head of small headers": Row(
        request_head(*[(f"x-h{i}", "v" * 200) for i in range(85)]),
        431,
        "RequestHeaderSectionTooLarge",
    ),
    "a 16 MiB header": Row(
        request_head(("x-big", "v" * 16 * MiB)), 431, "RequestHeaderSectionTooLarge"
    ),
    "a 20 KiB path": Row(
        request_head(path="/b/" + "k" * 20_000), 431, "RequestHeaderSectionTooLarge"
    ),
    "not HTTP": Row(
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\0" * 64, 400, "InvalidRequest"
    ),
    # llhttp knows the registered methods only; anything else is not HTTP.
    "a made-up method": Row(request_head(method="FROB"), 400, "InvalidRequest"),
    "a head trickled byte by byte": Row(
        request_head(("user-agent", "x" * 200)), 408, "RequestTimeout", pause=0.02, piece=1
    ),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_each_limit_answers_and_closes(gw: Gateway, name: str) -> None:
    row = ROWS[name]
    answer = exchange(port(gw), row.data, piece=row.piece, pause=row.pause)
    assert answer.status == row.status, answer
    assert answer.headers["connection"] == "close"
    assert answer.headers["content-type"] == "application/xml"
    assert answer.code() == row.code
    request_id = answer.headers["x-amz-request-id"]
    assert re.fullmatch(r"[0-9A-F]{16}", request_id)
    assert f"<RequestId>{request_id}</RequestId>".encode() in answer.body
    # Refused before any request existed: fast (the slow head at its timeout),
    # and the gateway keeps answering.
    limit = HEAD_TIMEOUT + 1.5 if row.code == "RequestTimeout" else 1.5
    assert answer.seconds < limit, answer.seconds
    assert healthz_seconds(gw) < 0.5


def test_requests_just_inside_the_limits_are_served(gw: Gateway) -> None:
    # 99 headers of ~150 bytes (host is the 100th), 15 KiB in all: handled
    # as any request (here: anonymous, so AccessDenied from the gateway itself).
    headers = [(f"x-h{i:02d}", "v" * 150) for i in range(98)]
    answer = exchange(port(gw), request_head(*headers, ("connection", "close"), path="/bucket/k"))
    assert answer.status == 403 and answer.code() == "AccessDenied"
    assert answer.headers["x-amz-request-id"]


def test_the_60000_header_request_does_not_stall_other_clients(gw: Gateway) -> None:
    data = request_head(*[("x-amz-meta-a", "v" * 84)] * 60_000)  # 6 MB
    stop = threading.Event()
    refused: list[Answer] = []

    def attack() -> None:
        while not stop.is_set():
            refused.append(exchange(port(gw), data))

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        time.sleep(0.3)
        latencies = [healthz_seconds(gw) for _ in range(20)]
    finally:
        stop.set()
        attacker.join(20)
    assert refused and all(a.status == 431 for a in refused)
    assert max(latencies) < 0.5, latencies


def test_floods_of_huge_and_slow_headers_stay_bounded(gw: Gateway) -> None:
    """30 connections sending 16 MiB headers and 150 trickling their heads:
    memory stays flat, healthz keeps answering, every connection is let go."""
    pid = gw.proc.pid
    healthz_seconds(gw)
    before = rss_bytes(pid)
    huge = request_head(("x-big", "v" * 16 * MiB))
    slow = request_head(("user-agent", "x" * 500))
    with ThreadPoolExecutor(max_workers=180) as pool:
        floods = [pool.submit(exchange, port(gw), huge) for _ in range(30)]
        trickles = [
            pool.submit(exchange, port(gw), slow, piece=1, pause=0.05, timeout=HEAD_TIMEOUT + 5)
            for _ in range(150)
        ]
        time.sleep(0.5)
        during = [healthz_seconds(gw) for _ in range(10)]
        peak = rss_bytes(pid)
        answers = [f.result(timeout=30) for f in floods + trickles]
    assert max(during) < 0.5, during
    assert peak - before < 64 * MiB, (before, peak)
    assert all(a.status == 431 for a in answers[:30]), [a.status for a in answers[:30]]
    assert all(a.status == 408 for a in answers[30:]), [a.status for a in answers[30:]]
    # Nothing is held afterwards (the listening socket, a few upstream ones).
    deadline = time.monotonic() + 5
    while open_connections(pid) > 40 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_connections(pid) <= 40


def test_a_silent_connection_is_closed_at_the_head_timeout(gw: Gateway) -> None:
    answer = exchange(port(gw), b"", timeout=HEAD_TIMEOUT + 5)
    assert answer.status is None and answer.body == b""
    assert HEAD_TIMEOUT - 0.2 < answer.seconds < HEAD_TIMEOUT + 1.5


# X-Forwarded-For.
def _signed_get(gw: Gateway, path: str, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
    who = gw.identities["admin"]
    request = AWSRequest(method="GET", url=gw.endpoint + path, headers=headers)
    S3SigV4Auth(Credentials(who.access_key_id, who.secret_access_key), "s3", REGION).add_auth(
        request
    )
    prepared = request.prepare()
    return urllib3.request(
        "GET", prepared.url, headers=dict(prepared.headers), retries=False, timeout=10
    )


def test_forged_x_forwarded_for_from_loopback_is_not_believed(gw: Gateway) -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    response = _signed_get(gw, "/", forged)
    assert response.status == 200
    request_id = response.headers["x-amz-request-id"]
    deadline = time.monotonic() + 5
    while not (events := events_of(gw, request_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert events and all(e["source_ip"] == "127.0.0.1" for e in events), events
    lines = access_lines(gw, request_id)
    assert [entry["source_ip"] for entry in lines] == ["127.0.0.1"]
    assert "203.0.113.9" not in json.dumps(events) + json.dumps(lines)


def test_x_forwarded_for_from_a_configured_proxy_is_believed(
    moto_endpoint: str, tmp_path: Path
) -> None:
    proxied = start_gateway(
        tmp_path,
        moto_endpoint,
        IDENTITIES,
        extra={"server": {"forwarded_allow_ips": ["127.0.0.1"]}},
    )
    try:
        response = _signed_get(proxied, "/", {"X-Forwarded-For": "203.0.113.9"})
        assert response.status == 200
        lines = access_lines(proxied, response.headers["x-amz-request-id"])
        deadline = time.monotonic() + 5
        while not lines and time.monotonic() < deadline:
            time.sleep(0.1)
            lines = access_lines(proxied, response.headers["x-amz-request-id"])
        assert [entry["source_ip"] for entry in lines] == ["203.0.113.9"]
    finally:
        proxied.stop()


# The credential scope's service.
def test_a_signature_for_another_service_is_refused(gw: Gateway) -> None:
    who = gw.identities["admin"]
    creds = Credentials(who.access_key_id, who.secret_access_key)
    request = AWSRequest(method="GET", url=gw.endpoint + "/")
    S3SigV4Auth(creds, "sts", REGION).add_auth(request)
    prepared = request.prepare()
    header = urllib3.request("GET", prepared.url, headers=dict(prepared.headers), retries=False)
    assert header.status == 400
    assert b"<Code>AuthorizationHeaderMalformed</Code>" in header.data
    # The message as a client reads it (the document writes `"` as &quot;).
    message = SafeET.fromstring(header.data).findtext("Message") or ""
    assert 'incorrect service "sts". This endpoint belongs to "s3"' in message

    presigned = AWSRequest(method="GET", url=gw.endpoint + "/")
    S3SigV4QueryAuth(creds, "sts", REGION, expires=300).add_auth(presigned)
    query = urllib3.request("GET", presigned.url, retries=False)
    assert query.status == 400
    assert b"<Code>AuthorizationQueryParametersError</Code>" in query.data
    assert b"X-Amz-Credential" in query.data


# Paths and methods the S3 API does not route.
ODD = {
    "line feed in the key": ("GET", "/bkt/a%0Ab", 403, "AccessDenied"),
    "line feed in the bucket": ("GET", "/bk%0At/k", 400, "InvalidBucketName"),
    "NUL in the key": ("GET", "/bkt/a%00b", 403, "AccessDenied"),
    "empty bucket": ("GET", "//k", 400, "InvalidBucketName"),
    "key over 1024 bytes": ("GET", "/bkt/" + "k" * 1100, 400, "KeyTooLongError"),
    "not UTF-8": ("GET", "/bkt/%ff", 400, "InvalidArgument"),
    "PATCH an object": ("PATCH", "/bkt/k", 405, "MethodNotAllowed"),
    "a WebDAV method": ("PROPFIND", "/bkt/k", 405, "MethodNotAllowed"),
    "TRACE the root": ("TRACE", "/", 501, "NotImplemented"),
    # A gateway endpoint asked with another method is an S3 request to the
    # bucket "_s3gate", which no bucket can be called.
    "POST healthz": ("POST", "/_s3gate/healthz", 400, "InvalidBucketName"),
}


@pytest.mark.parametrize("name", list(ODD))
def test_odd_paths_and_methods_answer_s3_xml_and_are_audited(gw: Gateway, name: str) -> None:
    method, path, status, code = ODD[name]
    answer = exchange(
        port(gw),
        request_head(("connection", "close"), ("content-length", "0"), path=path, method=method),
    )
    assert answer.status == status, answer
    assert answer.code() == code
    request_id = answer.headers["x-amz-request-id"]
    assert f"<RequestId>{request_id}</RequestId>".encode() in answer.body
    deadline = time.monotonic() + 5
    while not access_lines(gw, request_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [entry["error"] for entry in access_lines(gw, request_id)] == [code]
    events = events_of(gw, request_id)
    assert [(e["status"], e["error_code"]) for e in events] == [(status, code)], events


def test_refusals_are_counted_in_the_metrics(gw: Gateway) -> None:
    before = _refused(gw, "RequestHeaderSectionTooLarge")
    answer = exchange(port(gw), request_head(*[(f"x-h{i}", "v") for i in range(100)]))
    assert answer.status == 431
    assert _refused(gw, "RequestHeaderSectionTooLarge") == before + 1


def _refused(gw: Gateway, code: str) -> float:
    text = urllib3.request("GET", gw.endpoint + "/_s3gate/metrics", retries=False).data.decode()
    return samples(text).get(("s3gate_http_refused_total", (("code", code),)), 0.0)


def test_limits_hold_over_tls(tls_gateway: Gateway) -> None:
    """Over HTTPS there is no half-close; the answer still arrives before
    the connection closes."""
    context = ssl.create_default_context(cafile=tls_gateway.ca_file)
    data = request_head(*[("x-amz-meta-a", "v" * 84)] * 60_000)
    answer = exchange(port(tls_gateway), data, tls=context)
    assert answer.status == 431 and answer.code() == "RequestHeaderSectionTooLarge"
    assert answer.headers["connection"] == "close"
    assert answer.seconds < 3


def test_connections_beyond_the_cap_are_answered_503(moto_endpoint: str, tmp_path: Path) -> None:
    capped = start_gateway(
        tmp_path, moto_endpoint, IDENTITIES, extra={"server": {"max_connections": 20}}
    )
    held: list[socket.socket] = []
    try:
        held = [socket.create_connection(("127.0.0.1", port(capped))) for _ in range(20)]
        time.sleep(0.3)  # accepted by the gateway
        over = exchange(port(capped), request_head(("connection", "close")))
        assert over.status == 503 and over.code() == "SlowDown"
        assert over.headers["connection"] == "close"
        for sock in held:
            sock.close()
        held = []
        time.sleep(0.3)
        assert healthz_seconds(capped) < 0.5
    finally:
        for sock in held:
            sock.close()
        capped.stop()
