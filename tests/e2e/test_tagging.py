"""Object tagging through the gateway, with boto3 and the aws CLI in front of
moto: tags are content, inspected by the write profile like metadata, shown
to a masked reader through its read profile, refused with S3's codes when
they break S3's limits — and a refused request changes nothing at the store
(read directly from moto)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e import rawhttp
from tests.e2e.clients import aws
from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.e2e.test_masking import BUCKET, EXTRA_POLICIES, IDENTITIES

EMAIL = "tag.canary@example.com"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
CARD = "4111111111111111"
CANARIES = (EMAIL, AWS_KEY, CARD)


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """Writers under write-default, analysts under analyst-view (test_masking's
    personas); the admin is unmasked outside `traces`."""
    folder = tmp_path_factory.mktemp("tagging")
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
    return f"g{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def plain(gw: Gateway, direct: Any) -> Iterator[str]:
    """A bucket outside `traces`: the admin's requests there are unmasked."""
    name = f"tag-{uuid.uuid4().hex[:10]}"
    gw.client("admin").create_bucket(Bucket=name)
    yield name
    for obj in direct.list_objects_v2(Bucket=name).get("Contents", []):
        direct.delete_object(Bucket=name, Key=obj["Key"])
    for up in direct.list_multipart_uploads(Bucket=name).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    direct.delete_bucket(Bucket=name)


def tagset(**tags: str) -> dict[str, list[dict[str, str]]]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def stored_tags(direct: Any, key: str, bucket: str = BUCKET) -> dict[str, str]:
    got = direct.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in got}


def tags_of(answer: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in answer["TagSet"]}


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = exc.value.response["Error"]["Code"]
    return code


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in text
            assert canary.replace("@", "%40") not in text


# -- hostile first: canaries never reach the store in the clear ----------------------


def test_put_object_tagging_masks_values_before_the_store(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    key = prefix + "run.jsonl"
    writer = gw.client("writer")
    writer.put_object(Bucket=BUCKET, Key=key, Body=b'{"ok": 1}\n')
    writer.put_object_tagging(
        Bucket=BUCKET,
        Key=key,
        Tagging=tagset(owner=EMAIL, note=f"key {AWS_KEY}", card=CARD, team="alpha"),
    )
    at_rest = stored_tags(direct, key)
    assert_no_canary(json.dumps(at_rest))
    assert at_rest["owner"].startswith("tok_")
    assert at_rest["team"] == "alpha"  # untouched values are kept as sent
    assert set(at_rest) == {"owner", "note", "card", "team"}


def test_x_amz_tagging_on_put_object_is_masked(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "tagged.jsonl"
    gw.client("writer").put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b'{"ok": 1}\n',
        Tagging=f"owner={EMAIL.replace('@', '%40')}&team=alpha",
    )
    at_rest = stored_tags(direct, key)
    assert_no_canary(json.dumps(at_rest))
    assert at_rest["owner"].startswith("tok_") and at_rest["team"] == "alpha"


def test_x_amz_tagging_on_a_masked_multipart_upload_is_masked(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    key = prefix + "multi.jsonl"
    writer = gw.client("writer")
    upload = writer.create_multipart_upload(
        Bucket=BUCKET, Key=key, Tagging=f"owner={EMAIL.replace('@', '%40')}"
    )
    part = writer.upload_part(
        Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b'{"a": 1}\n'
    )
    writer.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    at_rest = stored_tags(direct, key)
    assert_no_canary(json.dumps(at_rest))
    assert at_rest["owner"].startswith("tok_")


def test_a_masked_copy_masks_the_source_tags(gw: Gateway, direct: Any, prefix: str) -> None:
    # Written around the gateway: the source's tags hold a canary.
    direct.put_object(Bucket=BUCKET, Key=prefix + "src.jsonl", Body=b'{"a": 1}\n')
    direct.put_object_tagging(
        Bucket=BUCKET, Key=prefix + "src.jsonl", Tagging=tagset(owner=EMAIL, t="x")
    )
    gw.client("writer").copy_object(
        Bucket=BUCKET,
        Key=prefix + "dst.jsonl",
        CopySource={"Bucket": BUCKET, "Key": prefix + "src.jsonl"},
    )
    at_rest = stored_tags(direct, prefix + "dst.jsonl")
    assert_no_canary(json.dumps(at_rest))
    assert at_rest["owner"].startswith("tok_") and at_rest["t"] == "x"


def test_a_masked_copy_with_replaced_tags_masks_them(gw: Gateway, direct: Any, prefix: str) -> None:
    direct.put_object(Bucket=BUCKET, Key=prefix + "src.jsonl", Body=b'{"a": 1}\n')
    direct.put_object_tagging(Bucket=BUCKET, Key=prefix + "src.jsonl", Tagging=tagset(old="1"))
    gw.client("writer").copy_object(
        Bucket=BUCKET,
        Key=prefix + "dst.jsonl",
        CopySource={"Bucket": BUCKET, "Key": prefix + "src.jsonl"},
        TaggingDirective="REPLACE",
        Tagging=f"owner={EMAIL.replace('@', '%40')}",
    )
    at_rest = stored_tags(direct, prefix + "dst.jsonl")
    assert list(at_rest) == ["owner"] and at_rest["owner"].startswith("tok_")


@pytest.mark.parametrize("key_text", [EMAIL, CARD, f"id-{AWS_KEY}"])
def test_a_canary_in_a_tag_key_is_refused_and_nothing_changes(
    gw: Gateway, direct: Any, prefix: str, key_text: str
) -> None:
    key = prefix + "k.jsonl"
    writer = gw.client("writer")
    writer.put_object(Bucket=BUCKET, Key=key, Body=b'{"ok": 1}\n', Tagging="before=1")
    with pytest.raises(ClientError) as exc:
        writer.put_object_tagging(Bucket=BUCKET, Key=key, Tagging=tagset(**{key_text: "x"}))
    assert code_of(exc) == "InvalidTag"
    assert_no_canary(json.dumps(exc.value.response["Error"]))
    assert stored_tags(direct, key) == {"before": "1"}
    # On PutObject: refused, and no object.
    other = prefix + "k2.jsonl"
    with pytest.raises(ClientError) as exc:
        writer.put_object(
            Bucket=BUCKET, Key=other, Body=b"{}\n", Tagging=key_text.replace("@", "%40") + "=x"
        )
    assert code_of(exc) == "InvalidTag"
    listed = direct.list_objects_v2(Bucket=BUCKET, Prefix=other).get("Contents", [])
    assert listed == []


def test_the_analyst_sees_tags_through_its_read_profile(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    key = prefix + "around.jsonl"
    direct.put_object(Bucket=BUCKET, Key=key, Body=b'{"ok": 1}\n')
    direct.put_object_tagging(
        Bucket=BUCKET,
        Key=key,
        Tagging=tagset(owner=EMAIL, password="pw1", **{CARD: "x"}, team="alpha"),
    )
    shown = tags_of(gw.client("analyst").get_object_tagging(Bucket=BUCKET, Key=key))
    assert_no_canary(json.dumps(shown))
    assert shown["owner"].startswith("tok_")
    assert "password" not in shown  # analyst-view drops passwords
    assert shown["team"] == "alpha"
    assert list(shown) == ["owner", "team"]  # the key with a card number is hidden
    # An unmasked reader (the admin, through the aws CLI) sees them as stored.
    out = aws(gw, "s3api", "get-object-tagging", "--bucket", BUCKET, "--key", key)
    assert EMAIL in out.stdout


def test_the_analyst_may_not_change_tags(gw: Gateway, direct: Any, prefix: str) -> None:
    key = prefix + "ro.jsonl"
    direct.put_object(Bucket=BUCKET, Key=key, Body=b"{}\n", Tagging="a=1")
    analyst = gw.client("analyst")
    for call in (
        lambda: analyst.put_object_tagging(Bucket=BUCKET, Key=key, Tagging=tagset(b="2")),
        lambda: analyst.delete_object_tagging(Bucket=BUCKET, Key=key),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == "AccessDenied"
    assert stored_tags(direct, key) == {"a": "1"}


# -- S3's limits -----------------------------------------------------------------------


def _tag_xml(count: int, key_len: int = 1, value_len: int = 1) -> bytes:
    tags = "".join(
        f"<Tag><Key>{'k' * key_len}{i}</Key><Value>{'v' * value_len}</Value></Tag>"
        for i in range(count)
    )
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_tag_xml(11), "InvalidTag"),
        (_tag_xml(1, key_len=128), "InvalidTag"),  # 129 characters with its index
        (_tag_xml(1, value_len=257), "InvalidTag"),
        (
            b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>"
            b"<Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>",
            "InvalidTag",
        ),
        (b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>", "MalformedXML"),
        (b"<Tagging><TagSet><Tag>", "MalformedXML"),
        (b"<NotTagging/>", "MalformedXML"),
    ],
)
def test_bad_tag_documents_are_refused_and_nothing_changes(
    gw: Gateway, direct: Any, plain: str, body: bytes, code: str
) -> None:
    direct.put_object(Bucket=plain, Key="k", Body=b"x", Tagging="keep=1")
    request = rawhttp.sign(gw, "PUT", f"/{plain}/k?tagging", body=body)
    resp = rawhttp.send(request)
    assert resp.status == 400 and f"<Code>{code}</Code>".encode() in resp.data
    assert stored_tags(direct, "k", plain) == {"keep": "1"}


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("&".join(f"k{i}=v" for i in range(11)), "InvalidTag"),
        ("k=" + "v" * 257, "InvalidTag"),
        ("aws:reserved=1", "InvalidTag"),
        ("a=1&a=2", "InvalidArgument"),
        ("k=%FF", "InvalidArgument"),
    ],
)
def test_bad_tagging_headers_are_refused_and_nothing_is_stored(
    gw: Gateway, direct: Any, plain: str, header: str, code: str
) -> None:
    admin = gw.client("admin")
    with pytest.raises(ClientError) as exc:
        admin.put_object(Bucket=plain, Key="new", Body=b"x", Tagging=header)
    assert code_of(exc) == code
    with pytest.raises(ClientError) as exc:
        admin.create_multipart_upload(Bucket=plain, Key="new", Tagging=header)
    assert code_of(exc) == code
    assert direct.list_objects_v2(Bucket=plain).get("Contents", []) == []
    assert direct.list_multipart_uploads(Bucket=plain).get("Uploads", []) == []


# -- unmasked round trips ------------------------------------------------------------


def test_tagging_round_trip(gw: Gateway, direct: Any, plain: str) -> None:
    admin = gw.client("admin")
    admin.put_object(Bucket=plain, Key="k", Body=b"x", Tagging="a=1&b=two%20words")
    assert tags_of(admin.get_object_tagging(Bucket=plain, Key="k")) == {"a": "1", "b": "two words"}
    admin.put_object_tagging(Bucket=plain, Key="k", Tagging=tagset(c="3", d="é"))
    assert stored_tags(direct, "k", plain) == {"c": "3", "d": "é"}
    admin.delete_object_tagging(Bucket=plain, Key="k")
    assert stored_tags(direct, "k", plain) == {}
    with pytest.raises(ClientError) as exc:
        admin.get_object_tagging(Bucket=plain, Key="missing")
    assert code_of(exc) == "NoSuchKey"
    # The aws CLI, as an operator would.
    aws(
        gw,
        "s3api",
        "put-object-tagging",
        "--bucket",
        plain,
        "--key",
        "k",
        "--tagging",
        "TagSet=[{Key=cli,Value=yes}]",
    )
    assert stored_tags(direct, "k", plain) == {"cli": "yes"}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, {"src": "1"}),
        ({"MetadataDirective": "REPLACE", "Metadata": {"m": "1"}}, {"src": "1"}),
        ({"TaggingDirective": "REPLACE", "Tagging": "new=2"}, {"new": "2"}),
        ({"TaggingDirective": "REPLACE"}, {}),
        (
            {"TaggingDirective": "REPLACE", "Tagging": "new=2", "MetadataDirective": "REPLACE"},
            {"new": "2"},
        ),
        ({"TaggingDirective": "REPLACE", "MetadataDirective": "REPLACE"}, {}),
    ],
)
def test_copy_object_follows_the_tagging_directive(
    gw: Gateway, direct: Any, plain: str, extra: dict[str, Any], expected: dict[str, str]
) -> None:
    admin = gw.client("admin")
    admin.put_object(Bucket=plain, Key="src", Body=b"x", Tagging="src=1")
    admin.copy_object(Bucket=plain, Key="dst", CopySource={"Bucket": plain, "Key": "src"}, **extra)
    assert stored_tags(direct, "dst", plain) == expected


def test_multipart_upload_tags_land_on_the_object(gw: Gateway, direct: Any, plain: str) -> None:
    admin = gw.client("admin")
    upload = admin.create_multipart_upload(Bucket=plain, Key="mp", Tagging="mp=yes")
    part = admin.upload_part(
        Bucket=plain, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"x"
    )
    admin.complete_multipart_upload(
        Bucket=plain,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert stored_tags(direct, "mp", plain) == {"mp": "yes"}
