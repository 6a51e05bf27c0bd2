"""Metadata, content headers and JSON numbers are content (issue: masking
bypasses), attacked as a trace writer with the shipped write-default profile.

Every test writes canaries through the gateway and then asserts one of two
outcomes: the write is refused with its code and nothing is stored, or no
canary is in what the store holds (read directly from moto: metadata and
body) nor in the analyst's HEAD and GET answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.e2e.clients import aws
from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.e2e.test_masking import BUCKET, EXTRA_POLICIES, IDENTITIES, stored


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The personas of test_masking: writers under write-default, strict
    writers under write-strict, analysts under analyst-view."""
    folder = tmp_path_factory.mktemp("masking-headers")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-services.cedar").write_text(EXTRA_POLICIES)
    try:
        direct.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    gateway = start_gateway(
        folder, moto_endpoint, IDENTITIES, extra={"policy": {"dir": str(policies)}}
    )
    yield gateway
    gateway.stop()


@pytest.fixture
def prefix() -> str:
    return f"h{uuid.uuid4().hex[:10]}/"


CANARIES = {
    "email": "alice.canary@example.com",
    "anthropic": "sk-ant-api03-" + "Zx9_Qw-7" * 10 + "AA",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "card": "4111111111111111",
}


def everything(head: dict[str, Any]) -> str:
    """All header names and values of a boto3 answer, as one string."""
    raw = head["ResponseMetadata"]["HTTPHeaders"]
    return json.dumps(raw) + json.dumps(head.get("Metadata", {}))


def assert_absent(canary: str, *texts: str) -> None:
    for text in texts:
        assert canary not in text
        assert canary.replace("@", "%40") not in text


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as exc:
        call()
    error: dict[str, Any] = exc.value.response["Error"]
    return error


def absent_from_store(direct: Any, key: str) -> None:
    with pytest.raises(ClientError) as exc:
        direct.head_object(Bucket=BUCKET, Key=key)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def with_header(client: Any, name: str, value: str) -> Any:
    """Add a raw header to every request of `client` (signed like the rest):
    for headers boto3 only takes typed (Expires) or not at all."""

    def add(request: Any, **_: Any) -> None:
        request.headers[name] = value

    client.meta.events.register("before-sign.s3", add)
    return client


# -- user metadata: masked ----------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CANARIES))
def test_user_metadata_is_masked_on_put_and_read(
    gw: Gateway, direct: Any, prefix: str, kind: str
) -> None:
    canary = CANARIES[kind]
    key = prefix + "meta.jsonl"
    writer = gw.client("writer")
    writer.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b'{"ok": 1}\n',
        Metadata={"note": f"seen {canary} today", "plain": "run-42"},
    )
    at_rest = direct.head_object(Bucket=BUCKET, Key=key)
    assert_absent(canary, everything(at_rest))
    assert at_rest["Metadata"]["plain"] == "run-42"  # untouched values stay
    assert at_rest["Metadata"]["note"].startswith("seen ")
    # The stamp counts what was masked in the metadata (counts, not values).
    assert at_rest["Metadata"]["s3gate-mask-counts"]
    analyst = gw.client("analyst")
    head = analyst.head_object(Bucket=BUCKET, Key=key)
    got = analyst.get_object(Bucket=BUCKET, Key=key)
    assert_absent(canary, everything(head), everything(got), got["Body"].read().decode())


def test_metadata_field_rules_apply_by_name(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "named.jsonl"
    gw.client("writer").put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b"{}\n",
        Metadata={"password": "hunter2-Secret", "api-key": "a8f5f167f44f4964e6c998dee827110c"},
    )
    meta = direct.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    assert "hunter2" not in json.dumps(meta) and "a8f5f167" not in json.dumps(meta)
    # The analyst view drops `password` fields entirely.
    head = gw.client("analyst").head_object(Bucket=BUCKET, Key=key)
    assert "password" not in head["Metadata"]


def test_rfc2047_metadata_is_read_and_stays_valid(gw: Gateway, direct: Any, prefix: str) -> None:
    # botocore refuses non-ASCII metadata itself; RFC 2047 is how a client
    # stores other text (S3 decodes it), and it would hide text in base64.
    with pytest.raises(ParamValidationError):
        gw.client("writer").put_object(Bucket=BUCKET, Key=prefix + "x", Metadata={"a": "é"})
    email = CANARIES["email"]
    word = "=?UTF-8?B?" + base64.b64encode(f"é {email}".encode()).decode() + "?="
    key = prefix + "enc.jsonl"
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=b"{}\n", Metadata={"word": word})
    meta = direct.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    assert meta["word"].startswith("=?UTF-8?B?") and "\r" not in meta["word"]
    decoded = base64.b64decode(meta["word"].removeprefix("=?UTF-8?B?").removesuffix("?="))
    assert email.encode() not in decoded and decoded.startswith("é tok_".encode())
    # One the gateway cannot read is refused, not stored.
    error = refused(
        lambda: gw.client("writer").put_object(
            Bucket=BUCKET,
            Key=prefix + "koi.jsonl",
            Body=b"{}\n",
            Metadata={"w": "=?KOI8-R?B?8tXT?="},
        )
    )
    assert error["Code"] == "InvalidArgument" and "x-amz-meta-w" in error["Message"]
    absent_from_store(direct, prefix + "koi.jsonl")


def test_metadata_block_rule_refuses_and_stores_nothing(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    key = prefix + "strict.jsonl"
    error = refused(
        lambda: gw.client("strict").put_object(
            Bucket=BUCKET, Key=key, Body=b"{}\n", Metadata={"cfg": CANARIES["aws"]}
        )
    )
    assert error["Code"] == "AccessDenied"
    assert "write-strict:aws_access_key_id" in error["Message"]
    assert CANARIES["aws"] not in json.dumps(error)
    absent_from_store(direct, key)


def test_a_canary_in_a_metadata_name_is_refused(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "name.jsonl"
    error = refused(
        lambda: gw.client("writer").put_object(
            Bucket=BUCKET, Key=key, Body=b"{}\n", Metadata={CANARIES["card"]: "x"}
        )
    )
    assert error["Code"] == "InvalidArgument"
    assert CANARIES["card"] not in json.dumps(error)
    absent_from_store(direct, key)


# -- object keys: refused (a key cannot be rewritten and reaches every listing) ------

KEYS = {
    "email": lambda c: f"{c}/run.jsonl",
    "aws": lambda c: f"runs/{c}.jsonl",
    "card": lambda c: f"cards/{c}/t.jsonl",
    "anthropic": lambda c: f"k/{c}",
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_a_canary_in_the_object_key_is_refused(
    gw: Gateway, direct: Any, prefix: str, kind: str
) -> None:
    key = prefix + KEYS[kind](CANARIES[kind])
    writer = gw.client("writer")
    error = refused(lambda: writer.put_object(Bucket=BUCKET, Key=key, Body=b'{"ok": 1}\n'))
    assert error["Code"] == "InvalidArgument"
    assert "object key" in error["Message"] and CANARIES[kind] not in error["Message"]
    absent_from_store(direct, key)
    before = set(staging(direct))
    error = refused(lambda: writer.create_multipart_upload(Bucket=BUCKET, Key=key))
    assert error["Code"] == "InvalidArgument"
    assert set(staging(direct)) == before  # no staged upload was begun
    source = prefix + "plain-source.jsonl"
    direct.put_object(Bucket=BUCKET, Key=source, Body=b"{}\n")
    error = refused(
        lambda: writer.copy_object(
            Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET, "Key": source}
        )
    )
    assert error["Code"] == "InvalidArgument"
    absent_from_store(direct, key)
    listed = direct.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    assert [o["Key"] for o in listed.get("Contents", [])] == [source]


def test_the_aws_cli_upload_of_a_canary_key_is_refused(
    gw: Gateway, direct: Any, prefix: str, tmp_path: Path
) -> None:
    local = tmp_path / "t.jsonl"
    local.write_bytes(b'{"ok": 1}\n')
    key = prefix + CANARIES["email"] + ".jsonl"
    result = aws(gw, "s3", "cp", str(local), f"s3://{BUCKET}/{key}", identity="writer", check=False)
    assert result.returncode != 0 and "InvalidArgument" in result.stderr
    absent_from_store(direct, key)
    ordinary = prefix + "2026-12-08/run-42.jsonl"  # an ordinary key is stored
    aws(gw, "s3", "cp", str(local), f"s3://{BUCKET}/{ordinary}", identity="writer")
    assert stored(direct, ordinary) == b'{"ok": 1}\n'


# -- content headers: refused --------------------------------------------------------

HEADERS: list[tuple[str, Callable[[str], str]]] = [
    ("Content-Disposition", lambda c: f'attachment; filename="{c}.jsonl"'),
    ("Content-Disposition", lambda c: "attachment; filename*=UTF-8''" + c.replace("@", "%40")),
    ("Cache-Control", lambda c: f'max-age=60, x-note="{c}"'),
    ("Content-Language", lambda c: f"en, {c}"),
    ("Content-Type", lambda c: f'application/x-ndjson; note="{c}"'),
    ("Expires", lambda c: f"Thu, 01 Dec 2094 16:00:00 GMT {c}"),
    ("x-amz-website-redirect-location", lambda c: f"/people/{c}"),
]


@pytest.mark.parametrize("kind", sorted(CANARIES))
@pytest.mark.parametrize(("header", "value"), HEADERS, ids=[h for h, _ in HEADERS])
def test_content_header_with_a_canary_is_refused(
    gw: Gateway, direct: Any, prefix: str, header: str, value: Callable[[str], str], kind: str
) -> None:
    canary = CANARIES[kind]
    key = prefix + "hdr.jsonl"
    writer = with_header(gw.client("writer"), header, value(canary))
    error = refused(lambda: writer.put_object(Bucket=BUCKET, Key=key, Body=b'{"ok": 1}\n'))
    assert error["Code"] == "InvalidArgument"
    assert header.lower() in error["Message"]
    assert_absent(canary, json.dumps(error))
    absent_from_store(direct, key)


def test_content_headers_without_canaries_are_stored(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "fine.jsonl"
    gw.client("writer").put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b'{"ok": 1}\n',
        ContentType="application/x-ndjson; charset=utf-8",
        ContentDisposition='attachment; filename="run-42.jsonl"',
        CacheControl="max-age=60",
        ContentLanguage="en-GB",
    )
    head = direct.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentDisposition"] == 'attachment; filename="run-42.jsonl"'
    assert head["CacheControl"] == "max-age=60" and head["ContentLanguage"] == "en-GB"


def test_headers_written_around_the_gateway_are_masked_or_hidden_on_read(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    email = CANARIES["email"]
    key = prefix + "around.jsonl"
    direct.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b'{"ok": 1}\n',
        Metadata={"note": f"by {email}", "s3gate-forged": email},
        ContentDisposition=f'attachment; filename="{email}.jsonl"',
    )
    analyst = gw.client("analyst")
    head = analyst.head_object(Bucket=BUCKET, Key=key)
    got = analyst.get_object(Bucket=BUCKET, Key=key)
    assert_absent(email, everything(head), everything(got))
    assert "ContentDisposition" not in head  # cannot be rewritten: left out
    assert head["Metadata"]["note"].startswith("by tok_")
    assert head["ETag"] == got["ETag"] and head["ContentLength"] == got["ContentLength"]


# -- CopyObject and multipart --------------------------------------------------------


@pytest.mark.parametrize("directive", ["COPY", "REPLACE"])
def test_copy_masks_metadata(gw: Gateway, direct: Any, prefix: str, directive: str) -> None:
    email = CANARIES["email"]
    source, target = prefix + "src.jsonl", prefix + "dst.jsonl"
    # The source was written around the gateway: its metadata was never inspected.
    direct.put_object(Bucket=BUCKET, Key=source, Body=b"{}\n", Metadata={"note": email})
    extra = {"Metadata": {"note": f"copy of {email}"}} if directive == "REPLACE" else {}
    gw.client("writer").copy_object(
        Bucket=BUCKET,
        Key=target,
        CopySource={"Bucket": BUCKET, "Key": source},
        MetadataDirective=directive,
        **extra,
    )
    assert_absent(email, everything(direct.head_object(Bucket=BUCKET, Key=target)))


def test_copy_replace_with_a_canary_header_is_refused(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    source, target = prefix + "src.jsonl", prefix + "dst.jsonl"
    direct.put_object(Bucket=BUCKET, Key=source, Body=b"{}\n")
    error = refused(
        lambda: gw.client("writer").copy_object(
            Bucket=BUCKET,
            Key=target,
            CopySource={"Bucket": BUCKET, "Key": source},
            MetadataDirective="REPLACE",
            ContentDisposition=f'inline; filename="{CANARIES["card"]}"',
        )
    )
    assert error["Code"] == "InvalidArgument"
    absent_from_store(direct, target)


def staging(direct: Any) -> list[str]:
    listed = direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_multipart_metadata_is_masked_and_refused_at_create(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    email = CANARIES["email"]
    writer = gw.client("writer")
    key = prefix + "mp.jsonl"
    before = set(staging(direct))
    error = refused(
        lambda: writer.create_multipart_upload(
            Bucket=BUCKET, Key=key, ContentDisposition=f'attachment; filename="{email}"'
        )
    )
    assert error["Code"] == "InvalidArgument"
    assert set(staging(direct)) == before  # no staged upload was begun
    upload = writer.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata={"who": email})
    uid = upload["UploadId"]
    for name in staging(direct):  # the sealed upload record holds no canary either
        assert email.encode() not in stored(direct, name)
    body = b'{"n": 1}\n'
    etag = writer.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=1, Body=body)
    writer.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag["ETag"]}]},
    )
    assert_absent(email, everything(direct.head_object(Bucket=BUCKET, Key=key)))


def test_staged_part_markers_hold_nothing_derived_from_plaintext(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    writer = gw.client("writer")
    key = prefix + "parts.jsonl"
    uid = writer.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = [b'{"note": "part 1"}\n' * (6 * 1024 * 1024 // 18), b'{"note": "part 2"}\n']
    digests = [hashlib.md5(p).hexdigest() for p in parts]
    etags = []
    for number, part in enumerate(parts, start=1):
        answer = writer.upload_part(
            Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=number, Body=part
        )
        assert answer["ETag"] == f'"{digests[number - 1]}"'  # what S3 would answer
        etags.append(answer["ETag"])
    listed = writer.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)["Parts"]
    assert [p["ETag"] for p in listed] == etags
    names = staging(direct)
    assert any("etag-" in n for n in names)
    for name in names:
        data = stored(direct, name)
        for digest in digests:
            assert digest not in name
            assert digest.encode() not in data and bytes.fromhex(digest) not in data
    # A wrong ETag at Complete is still caught; the right ones complete.
    error = refused(
        lambda: writer.complete_multipart_upload(
            Bucket=BUCKET,
            Key=key,
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]},
        )
    )
    assert error["Code"] == "InvalidPart"
    writer.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=uid,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in ((1, etags[0]), (2, etags[1]))]
        },
    )
    assert stored(direct, key) == b"".join(parts)


# -- the gateway's stamp cannot be forged ---------------------------------------------


@pytest.mark.parametrize("identity", ["admin", "writer"])
def test_a_client_cannot_forge_the_masking_stamp(
    gw: Gateway, direct: Any, prefix: str, identity: str
) -> None:
    key = prefix + "forged.jsonl"
    gw.client(identity).put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b'{"mail": "bob@example.com"}\n' if identity == "writer" else b"{}\n",
        Metadata={"s3gate-mask-profiles": "forged", "s3gate-bundle": "forged", "s3gate-x": "y"},
    )
    meta = direct.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    assert "forged" not in json.dumps(meta) and "s3gate-x" not in meta
    if identity == "writer":
        assert meta["s3gate-mask-profiles"] == "write-default"


# -- JSON numbers --------------------------------------------------------------------

NUMBERS = (
    '{"cc": 4111111111111111, "neg": -4111111111111111, "exp": 4.111111111111111e15,'
    ' "ssn": 536221234, "phone": 4155550132, "nested": [1, {"pan": 5500000000000004}]}'
)
DIGITS = ["4111111111111111", "536221234", "4155550132", "5500000000000004"]


@pytest.mark.parametrize(
    ("name", "content_type", "body"),
    [
        ("doc.json", "application/json", NUMBERS.encode()),
        ("lines.jsonl", "application/x-ndjson", (NUMBERS + "\n").encode() * 50),
        ("top.json", "application/json", b"4111111111111111"),
    ],
)
def test_json_numbers_are_masked(
    gw: Gateway, direct: Any, prefix: str, name: str, content_type: str, body: bytes
) -> None:
    key = prefix + name
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
    at_rest = stored(direct, key)
    for line in at_rest.splitlines():
        json.loads(line)  # still valid JSON
    assert not [d for d in DIGITS if d.encode() in at_rest]
    view = gw.client("analyst").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert not [d for d in DIGITS if d.encode() in view]
    # Written around the gateway, the analyst's view masks them too.
    direct.put_object(Bucket=BUCKET, Key=key + ".raw", Body=body, ContentType=content_type)
    view = gw.client("analyst").get_object(Bucket=BUCKET, Key=key + ".raw")["Body"].read()
    assert not [d for d in DIGITS if d.encode() in view]


# -- with real clients ---------------------------------------------------------------


def test_aws_cli_metadata_is_masked_and_a_bad_header_refused(
    gw: Gateway, direct: Any, prefix: str, tmp_path: Path
) -> None:
    email = CANARIES["email"]
    src = tmp_path / "run.jsonl"
    src.write_bytes(b'{"ok": 1}\n')
    target = f"s3://{BUCKET}/{prefix}cli.jsonl"
    aws(gw, "s3", "cp", str(src), target, "--metadata", f"owner={email}", identity="writer")
    assert_absent(email, everything(direct.head_object(Bucket=BUCKET, Key=prefix + "cli.jsonl")))
    bad = aws(
        gw,
        "s3",
        "cp",
        str(src),
        f"s3://{BUCKET}/{prefix}bad.jsonl",
        "--content-disposition",
        f'attachment; filename="{email}"',
        identity="writer",
        check=False,
    )
    assert bad.returncode != 0 and "InvalidArgument" in bad.stderr
    assert email not in bad.stderr
    absent_from_store(direct, prefix + "bad.jsonl")


def test_strict_multipart_create_with_a_key_in_metadata_is_refused(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    before = set(staging(direct))
    error = refused(
        lambda: gw.client("strict").create_multipart_upload(
            Bucket=BUCKET, Key=prefix + "s.jsonl", Metadata={"k": CANARIES["aws"]}
        )
    )
    assert error["Code"] == "AccessDenied"
    assert set(staging(direct)) == before
