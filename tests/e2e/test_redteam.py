"""Red-team findings (issue 11), end to end: a trace writer under the shipped
`write-default` profile stores canaries that a standard reader decodes from
the stored bytes, and an analyst (`analyst-view`) is served an object written
around the gateway with the canaries readable. Each test FAILS until the
hole is closed (see tests/unit/transform/test_redteam.py for the cause of
each).
"""

from __future__ import annotations

import html
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.canaries import ANTHROPIC, AWS_KEY, CANARIES, CARD, EMAIL, record
from tests.e2e.harness import Gateway
from tests.e2e.test_inspect_or_refuse import _absent, _analyst_raw, _stored
from tests.e2e.test_masking import BUCKET
from tests.e2e.test_masking import gw as gw  # the same fixture: a gateway of this module's own

SECRET = f"x {EMAIL} {ANTHROPIC} {AWS_KEY} {CARD} y"
Reader = Callable[[bytes], str]


def _json_loads(data: bytes) -> str:
    return repr(json.loads(data))  # json.loads picks UTF-8/16/32 itself


def _utf16(data: bytes) -> str:
    return data.decode("utf-16-le")  # WHATWG's `utf-16` label; Python's on x86


def _html(data: bytes) -> str:
    return html.unescape(data.decode())


def _shown(reader: Reader, data: bytes) -> list[str]:
    try:
        text = reader(data)
    except (UnicodeError, ValueError):
        return []
    return [c for c in CANARIES if c in text]


WRITES: dict[str, tuple[bytes, str, Reader]] = {
    "utf-16-le json labelled charset=utf-8": (
        json.dumps(record()).encode("utf-16-le"),
        "application/json; charset=utf-8",
        _json_loads,
    ),
    "utf-16-be top-level json string, no BOM": (
        json.dumps("\u4e2d" + SECRET, ensure_ascii=False).encode("utf-16-be"),
        "application/json",
        _json_loads,
    ),
    "charset=utf-16 little-endian without BOM": (
        ("\u4e2d" + SECRET).encode("utf-16-le"),
        "text/plain; charset=utf-16",
        _utf16,
    ),
    "text/html character references": (
        SECRET.replace("@", "&#64;")
        .replace("AKIA", "AKI&#65;")
        .replace("4111", "&#52;111")
        .encode(),
        "text/html",
        _html,
    ),
    "card as a JSON float": (b'{"cc":4111111111111111.0}', "application/json", _json_loads),
}


@pytest.fixture
def prefix() -> str:
    return f"red{uuid.uuid4().hex[:10]}/"


@pytest.mark.parametrize("form", sorted(WRITES))
def test_writer_put_stores_nothing_a_reader_decodes(
    gw: Gateway, direct: Any, prefix: str, form: str
) -> None:
    body, ctype, reader = WRITES[form]
    assert _shown(reader, body), "bad case"
    key = prefix + "trace"
    try:
        gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=ctype)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in (
            "AccessDenied",
            "InvalidRequest",
            "InvalidArgument",
        )
        assert _absent(direct, key)
        return
    at_rest, _ = _stored(direct, key)
    assert _shown(reader, at_rest) == [], form
    analyst, _ = _analyst_raw(gw, key)
    assert _shown(reader, analyst) == [], form


@pytest.mark.parametrize("form", sorted(WRITES))
def test_analyst_is_not_served_an_object_written_around_the_gateway(
    gw: Gateway, direct: Any, prefix: str, form: str
) -> None:
    body, ctype, reader = WRITES[form]
    key = prefix + "direct"
    direct.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=ctype)
    try:
        analyst, _ = _analyst_raw(gw, key)
    except AssertionError:
        return  # refused (not 200): nothing served
    assert _shown(reader, analyst) == [], form


def test_user_metadata_and_content_headers_are_not_stored_in_the_clear(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """Metadata a client can store is content too (issue 11, item 5)."""
    key = prefix + "meta.jsonl"
    try:
        gw.client("writer").put_object(
            Bucket=BUCKET,
            Key=key,
            Body=b'{"a":1}\n',
            ContentType="application/x-ndjson",
            Metadata={"note": EMAIL, "k": AWS_KEY},
            ContentDisposition=f'attachment; filename="{EMAIL}.jsonl"',
            ContentLanguage=AWS_KEY,
        )
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("AccessDenied", "InvalidArgument")
        assert _absent(direct, key)
        return
    head = direct.head_object(Bucket=BUCKET, Key=key)
    stored = json.dumps(
        [head.get("Metadata"), head.get("ContentDisposition"), head.get("ContentLanguage")]
    )
    assert [c for c in CANARIES if c in stored] == []


def test_multipart_with_charset_utf8_label_on_a_utf16_body(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """The same label mismatch through Create/UploadPart/Complete."""
    s3 = gw.client("writer")
    key = prefix + "mpu"
    body = json.dumps(record()).encode("utf-16-le")
    try:
        mpu = s3.create_multipart_upload(
            Bucket=BUCKET, Key=key, ContentType="application/json; charset=utf-8"
        )
        part = s3.upload_part(
            Bucket=BUCKET, Key=key, UploadId=mpu["UploadId"], PartNumber=1, Body=body
        )
        s3.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=mpu["UploadId"],
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
        )
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("AccessDenied", "InvalidRequest")
        assert _absent(direct, key)
        return
    at_rest, _ = _stored(direct, key)
    assert _shown(_json_loads, at_rest) == []


def test_copy_replace_relabels_a_direct_object_as_utf16(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """CopyObject REPLACE of an object written around the gateway, correctly
    labelled: the new label makes the masker read it big-endian, and the
    copy keeps the little-endian canaries."""
    src, dst = prefix + "src.txt", prefix + "dst.txt"
    body = ("\u4e2d" + SECRET).encode("utf-16-le")
    direct.put_object(Bucket=BUCKET, Key=src, Body=body, ContentType="text/plain; charset=utf-16le")
    try:
        gw.client("writer").copy_object(
            Bucket=BUCKET,
            Key=dst,
            CopySource={"Bucket": BUCKET, "Key": src},
            MetadataDirective="REPLACE",
            ContentType="text/plain; charset=utf-16",
        )
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("AccessDenied", "InvalidRequest")
        assert _absent(direct, dst)
        return
    at_rest, _ = _stored(direct, dst)
    assert _shown(_utf16, at_rest) == []
