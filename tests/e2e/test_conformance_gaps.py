"""The conformance gaps the public S3 suite (ceph/s3-tests) left, closed end
to end with boto3 through the gateway in front of moto: DeleteObjects over
S3's key limit, reads of delete markers, `x-amz-tagging-count`, GET/HEAD by
part number, ListBuckets pagination and bucket tagging.

Hostile cases first in each section: what a refused request leaves in the
store is read back from the store directly."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e import rawhttp
from tests.e2e.harness import POLICIES, Gateway, start_gateway

POLICY = """
@id("e2e.gaps-admin")
permit (principal is Service in Group::"admins", action, resource);

@id("e2e.gaps-analyst-read")
@mask("analyst-view")
permit (principal is Service in Group::"analysts", action in Action::"read", resource)
when { resource.bucket like "g-*" };

@id("e2e.gaps-analyst-list")
permit (principal is Service in Group::"analysts", action in Action::"list", resource)
when { resource.bucket like "g-*" };

@id("e2e.gaps-reader-plain")
permit (principal is Service in Group::"plain-readers", action in Action::"read", resource)
when { resource.bucket like "g-*" };

@id("e2e.gaps-reader-list")
permit (principal is Service in Group::"plain-readers", action in Action::"list", resource)
when { resource.bucket like "g-*" && !(resource.bucket like "g-*-hidden") };

@id("e2e.gaps-tagger")
@mask("write-default")
permit (principal is Service in Group::"taggers", action in Action::"admin", resource)
when { resource.bucket like "g-*" };

@id("e2e.gaps-tag-reader")
@mask("analyst-view")
permit (principal is Service in Group::"tag-readers", action in Action::"list", resource)
when { resource.bucket like "g-*" };
"""
IDENTITIES = {
    "admin": ("admins",),
    "analyst": ("analysts",),
    "reader": ("plain-readers",),
    "tagger": ("taggers",),
    "tagreader": ("tag-readers",),
}


@pytest.fixture(scope="module")
def gw(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("gaps")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-gaps.cedar").write_text(POLICY)
    gateway = start_gateway(
        folder, moto_endpoint, IDENTITIES, extra={"policy": {"dir": str(policies)}}
    )
    yield gateway
    gateway.stop()


def _empty(direct: Any, name: str) -> None:
    for page in direct.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            direct.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    for up in direct.list_multipart_uploads(Bucket=name).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    direct.delete_bucket(Bucket=name)


@pytest.fixture
def gbucket(gw: Gateway, direct: Any) -> Iterator[str]:
    name = f"g-{uuid.uuid4().hex[:12]}"
    gw.client("admin").create_bucket(Bucket=name)
    yield name
    _empty(direct, name)


@pytest.fixture
def vbucket(gw: Gateway, direct: Any) -> Iterator[str]:
    name = f"g-{uuid.uuid4().hex[:12]}"
    admin = gw.client("admin")
    admin.create_bucket(Bucket=name)
    admin.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    _empty(direct, name)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def _headers(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    return dict(exc.value.response["ResponseMetadata"]["HTTPHeaders"])


# --- DeleteObjects over S3's 1000-key limit --------------------------------------------


def test_delete_objects_of_1001_keys_is_malformed_and_deletes_nothing(
    gw: Gateway, gbucket: str, direct: Any
) -> None:
    """S3 refuses more than 1000 keys with MalformedXML before deleting any
    (the suite's key-limit tests); the keys that exist are all still there."""
    admin = gw.client("admin")
    stored = ["key-0", "key-500", "key-1000"]
    for key in stored:
        admin.put_object(Bucket=gbucket, Key=key, Body=key.encode())
    objects = [{"Key": f"key-{i}"} for i in range(1001)]
    with pytest.raises(ClientError) as exc:
        admin.delete_objects(Bucket=gbucket, Delete={"Objects": objects})
    assert (_status(exc), _code(exc)) == (400, "MalformedXML")
    listed = direct.list_objects_v2(Bucket=gbucket).get("Contents", [])
    assert sorted(o["Key"] for o in listed) == sorted(stored)
    # 1000 is S3's limit, and allowed.
    done = admin.delete_objects(Bucket=gbucket, Delete={"Objects": objects[:1000]})
    assert {d["Key"] for d in done.get("Deleted", [])} >= {"key-0", "key-500"}
    assert [o["Key"] for o in direct.list_objects_v2(Bucket=gbucket)["Contents"]] == ["key-1000"]


# --- reads of a delete marker ----------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "analyst"])
def test_head_and_get_of_a_deleted_key_name_the_delete_marker(
    who: str, gw: Gateway, vbucket: str
) -> None:
    """404 with `x-amz-delete-marker: true` and the marker's version id, as S3
    and moto answer; the same for a masked reader (the marker has no content
    to mask)."""
    admin = gw.client("admin")
    admin.put_object(Bucket=vbucket, Key="gone.jsonl", Body=b'{"a": 1}\n')
    marker = admin.delete_object(Bucket=vbucket, Key="gone.jsonl")
    assert marker["DeleteMarker"] is True
    client = gw.client(who)
    for call in (client.head_object, client.get_object):
        with pytest.raises(ClientError) as exc:
            call(Bucket=vbucket, Key="gone.jsonl")
        headers = _headers(exc)
        assert _status(exc) == 404
        assert headers.get("x-amz-delete-marker") == "true"
        assert headers.get("x-amz-version-id") == marker["VersionId"]


@pytest.mark.parametrize("who", ["admin", "analyst"])
def test_get_of_a_delete_markers_version_is_method_not_allowed(
    who: str, gw: Gateway, vbucket: str
) -> None:
    admin = gw.client("admin")
    admin.put_object(Bucket=vbucket, Key="gone.jsonl", Body=b'{"a": 1}\n')
    marker = admin.delete_object(Bucket=vbucket, Key="gone.jsonl")["VersionId"]
    client = gw.client(who)
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=vbucket, Key="gone.jsonl", VersionId=marker)
    assert (_status(exc), _code(exc)) == (405, "MethodNotAllowed")
    assert _headers(exc).get("x-amz-delete-marker") == "true"
    assert _headers(exc).get("x-amz-version-id") == marker
    with pytest.raises(ClientError) as exc:
        client.head_object(Bucket=vbucket, Key="gone.jsonl", VersionId=marker)
    assert _status(exc) == 405
    assert _headers(exc).get("x-amz-delete-marker") == "true"


def test_a_key_never_written_has_no_delete_marker_header(gw: Gateway, vbucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        gw.client("admin").head_object(Bucket=vbucket, Key="never")
    assert _status(exc) == 404
    assert "x-amz-delete-marker" not in _headers(exc)


# --- x-amz-tagging-count ---------------------------------------------------------------

CARD = "4111111111111111"
TAGS = {"owner": "tag.canary@example.com", "password": "pw1", CARD: "x", "team": "alpha"}


def _tagged(direct: Any, bucket: str, key: str, tags: dict[str, str]) -> None:
    """Written around the gateway: the tags hold what a masked reader may not see."""
    direct.put_object(Bucket=bucket, Key=key, Body=b'{"ok": 1}\n')
    if tags:
        tagset = [{"Key": k, "Value": v} for k, v in tags.items()]
        direct.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tagset})


def test_a_masked_reader_counts_only_the_tags_it_may_see(
    gw: Gateway, gbucket: str, direct: Any
) -> None:
    """The store counts 4 tags; analyst-view drops `password` and hides the
    tag whose key is a card number: its count is that of its
    GetObjectTagging, never the store's."""
    _tagged(direct, gbucket, "t.jsonl", TAGS)
    assert direct.head_object(Bucket=gbucket, Key="t.jsonl")["TagCount"] == 4
    analyst = gw.client("analyst")
    shown = analyst.get_object_tagging(Bucket=gbucket, Key="t.jsonl")["TagSet"]
    assert sorted(t["Key"] for t in shown) == ["owner", "team"]
    assert analyst.head_object(Bucket=gbucket, Key="t.jsonl")["TagCount"] == 2
    got = analyst.get_object(Bucket=gbucket, Key="t.jsonl")
    assert got["TagCount"] == 2
    got["Body"].read()
    # Every tag hidden: no header at all, as S3 answers for an untagged object.
    _tagged(direct, gbucket, "hidden.jsonl", {CARD: "x", "password": "pw"})
    assert "TagCount" not in analyst.head_object(Bucket=gbucket, Key="hidden.jsonl")


@pytest.mark.parametrize("who", ["admin", "reader"])
def test_an_unmasked_reader_gets_the_stores_tag_count(
    who: str, gw: Gateway, gbucket: str, direct: Any
) -> None:
    _tagged(direct, gbucket, "t.jsonl", TAGS)
    _tagged(direct, gbucket, "untagged.jsonl", {})
    client = gw.client(who)
    assert client.head_object(Bucket=gbucket, Key="t.jsonl")["TagCount"] == 4
    got = client.get_object(Bucket=gbucket, Key="t.jsonl")
    assert got["TagCount"] == 4
    assert got["Body"].read() == b'{"ok": 1}\n'
    assert "TagCount" not in client.head_object(Bucket=gbucket, Key="untagged.jsonl")


# --- ListBuckets pagination ------------------------------------------------------------


@pytest.fixture
def buckets(gw: Gateway, direct: Any) -> Iterator[tuple[str, list[str], str]]:
    """(prefix, the names the reader may list in order, a hidden one)."""
    run = f"g-{uuid.uuid4().hex[:8]}-"
    names = [run + n for n in ("a", "b", "c")]
    hidden = run + "b2-hidden"  # sorts between b and c
    for name in [*names, hidden]:
        direct.create_bucket(Bucket=name)
    yield run, names, hidden
    for name in [*names, hidden]:
        direct.delete_bucket(Bucket=name)


def test_list_buckets_pages_only_the_buckets_the_caller_may_list(
    gw: Gateway, buckets: tuple[str, list[str], str]
) -> None:
    prefix, names, hidden = buckets
    reader = gw.client("reader")
    seen: list[str] = []
    tokens: list[str] = []
    kwargs: dict[str, Any] = {"MaxBuckets": 1, "Prefix": prefix}
    while True:
        page = reader.list_buckets(**kwargs)
        assert page["Prefix"] == prefix
        assert all(b["BucketRegion"] == "us-east-1" for b in page["Buckets"])
        seen += [b["Name"] for b in page["Buckets"]]
        if "ContinuationToken" not in page:
            break
        tokens.append(page["ContinuationToken"])
        kwargs["ContinuationToken"] = page["ContinuationToken"]
    assert seen == names
    assert len(tokens) == 2  # after a and after b; c is the last
    # Opaque: no token names a bucket, hidden or not.
    assert not any(prefix in t or prefix.encode().hex() in t for t in tokens)
    # The admin sees the hidden one too, in its place.
    pages = gw.client("admin").get_paginator("list_buckets").paginate(Prefix=prefix, MaxBuckets=2)
    assert [b["Name"] for p in pages for b in p["Buckets"]] == [*names[:2], hidden, names[2]]
    # Without parameters: the whole list, as before (no BucketRegion, no token).
    plain = reader.list_buckets()
    assert [b["Name"] for b in plain["Buckets"] if b["Name"].startswith(prefix)] == names
    assert "ContinuationToken" not in plain
    assert all("BucketRegion" not in b for b in plain["Buckets"])


def test_list_buckets_in_another_region_lists_none(
    gw: Gateway, buckets: tuple[str, list[str], str]
) -> None:
    prefix, names, _ = buckets
    reader = gw.client("reader")
    assert reader.list_buckets(Prefix=prefix, BucketRegion="eu-west-1")["Buckets"] == []
    mine = reader.list_buckets(Prefix=prefix, BucketRegion="us-east-1")["Buckets"]
    assert [b["Name"] for b in mine] == names


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("max-buckets=0", "InvalidArgument"),
        ("max-buckets=10001", "InvalidArgument"),
        ("max-buckets=abc", "InvalidArgument"),
        ("continuation-token=s3g2-local.AAAA", "InvalidArgument"),
        ("continuation-token=g-a", "InvalidArgument"),  # a plain name is not a token
        ("max-buckets=1&location", "NotImplemented"),
    ],
)
def test_bad_list_buckets_parameters_are_refused(gw: Gateway, query: str, code: str) -> None:
    resp = rawhttp.send(rawhttp.sign(gw, "GET", "/?" + query, identity="reader"))
    assert resp.status in (400, 501), resp.data
    assert f"<Code>{code}</Code>".encode() in resp.data


def test_a_token_from_a_listing_does_not_page_buckets(gw: Gateway, gbucket: str) -> None:
    """Sealed tokens are bound to what they page: one from ListObjectsV2 of a
    bucket is refused by ListBuckets."""
    admin = gw.client("admin")
    for key in ("a", "b"):
        admin.put_object(Bucket=gbucket, Key=key, Body=b"x")
    token = admin.list_objects_v2(Bucket=gbucket, MaxKeys=1)["NextContinuationToken"]
    with pytest.raises(ClientError) as exc:
        admin.list_buckets(MaxBuckets=1, ContinuationToken=token)
    assert (_status(exc), _code(exc)) == (400, "InvalidArgument")


# --- GET / HEAD by part number ---------------------------------------------------------

MiB = 1024 * 1024


def _multipart(client: Any, bucket: str, key: str, parts: list[bytes]) -> str:
    up = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = [
        {
            "PartNumber": n,
            "ETag": client.upload_part(
                Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=body
            )["ETag"],
        }
        for n, body in enumerate(parts, start=1)
    ]
    return str(
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": done}
        )["ETag"]
    )


def test_an_unmasked_reader_reads_a_multipart_object_part_by_part(
    gw: Gateway, gbucket: str
) -> None:
    admin = gw.client("admin")
    parts = [b"a" * (5 * MiB), b"b" * (5 * MiB), b"c" * 100]
    etag = _multipart(admin, gbucket, "mp.bin", parts)
    reader = gw.client("reader")
    for n, body in enumerate(parts, start=1):
        head = reader.head_object(Bucket=gbucket, Key="mp.bin", PartNumber=n)
        assert (head["PartsCount"], head["ETag"], head["ContentLength"]) == (3, etag, len(body))
        got = reader.get_object(Bucket=gbucket, Key="mp.bin", PartNumber=n)
        assert (got["PartsCount"], got["ETag"]) == (3, etag)
        assert got["Body"].read() == body
    with pytest.raises(ClientError) as exc:
        reader.get_object(Bucket=gbucket, Key="mp.bin", PartNumber=4)
    assert _status(exc) == 416  # the store's answer (S3: InvalidPartNumber)


def test_an_unmasked_single_part_object_is_part_one(gw: Gateway, gbucket: str) -> None:
    reader = gw.client("reader")
    etag = gw.client("admin").put_object(Bucket=gbucket, Key="one.bin", Body=b"body")["ETag"]
    got = reader.get_object(Bucket=gbucket, Key="one.bin", PartNumber=1)
    assert (got["ETag"], got["Body"].read()) == (etag, b"body")
    with pytest.raises(ClientError) as exc:
        reader.get_object(Bucket=gbucket, Key="one.bin", PartNumber=2)
    assert _status(exc) == 416


def test_a_masked_reader_reads_its_view_as_one_part(gw: Gateway, gbucket: str, direct: Any) -> None:
    """The stored object has three parts; the analyst's view is one object of
    one part: part 1 is the whole view (masked), part 2 is not satisfiable,
    and no part count reveals the stored object's parts."""
    lines = b'{"note": "from 192.168.7.42 ok"}\n' * (6 * MiB // 34)
    parts = [lines[: 5 * MiB], lines[5 * MiB :]]
    _multipart(gw.client("admin"), gbucket, "mp.jsonl", parts)
    analyst = gw.client("analyst")
    whole = analyst.get_object(Bucket=gbucket, Key="mp.jsonl")["Body"].read()
    assert b"192.168.7.42" not in whole
    head = analyst.head_object(Bucket=gbucket, Key="mp.jsonl", PartNumber=1)
    assert "PartsCount" not in head
    assert head["ContentLength"] == len(whole)
    got = analyst.get_object(Bucket=gbucket, Key="mp.jsonl", PartNumber=1)
    assert "PartsCount" not in got
    assert got["ContentRange"] == f"bytes 0-{len(whole) - 1}/{len(whole)}"
    assert got["Body"].read() == whole
    for call in (analyst.get_object, analyst.head_object):
        with pytest.raises(ClientError) as exc:
            call(Bucket=gbucket, Key="mp.jsonl", PartNumber=2)
        assert _status(exc) == 416
    with pytest.raises(ClientError) as exc:
        analyst.get_object(Bucket=gbucket, Key="mp.jsonl", PartNumber=2)
    assert _code(exc) == "InvalidPartNumber"


@pytest.mark.parametrize("who", ["reader", "analyst"])
@pytest.mark.parametrize(
    ("query", "headers", "code"),
    [
        ("partNumber=0", {}, "InvalidArgument"),
        ("partNumber=10001", {}, "InvalidArgument"),
        ("partNumber=abc", {}, "InvalidArgument"),
        ("partNumber=" + "9" * 500, {}, "InvalidArgument"),
        ("partNumber=1", {"Range": "bytes=0-1"}, "InvalidRequest"),
    ],
)
def test_bad_part_numbers_are_refused(
    who: str, query: str, headers: dict[str, str], code: str, gw: Gateway, gbucket: str
) -> None:
    gw.client("admin").put_object(Bucket=gbucket, Key="k.jsonl", Body=b'{"a": 1}\n')
    resp = rawhttp.send(
        rawhttp.sign(gw, "GET", f"/{gbucket}/k.jsonl?{query}", headers=headers, identity=who)
    )
    assert resp.status == 400, resp.data
    assert f"<Code>{code}</Code>".encode() in resp.data
    assert b'"a"' not in resp.data


# --- bucket tagging --------------------------------------------------------------------

EMAIL = "tag.canary@example.com"


def _bucket_tags(direct: Any, bucket: str) -> dict[str, str] | None:
    """The bucket's tags at the store; None when it has none (NoSuchTagSet)."""
    try:
        got = direct.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchTagSet"
        return None
    return {t["Key"]: t["Value"] for t in got}


def _tagset(tags: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_changing_bucket_tags_is_an_admin_action(gw: Gateway, gbucket: str, direct: Any) -> None:
    """The reader may list the bucket (and so read its tags), never change them."""
    direct.put_bucket_tagging(Bucket=gbucket, Tagging=_tagset({"team": "alpha"}))
    reader = gw.client("reader")
    for call in (
        lambda: reader.put_bucket_tagging(Bucket=gbucket, Tagging=_tagset({"team": "evil"})),
        lambda: reader.delete_bucket_tagging(Bucket=gbucket),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert (_status(exc), _code(exc)) == (403, "AccessDenied")
    assert _bucket_tags(direct, gbucket) == {"team": "alpha"}
    got = reader.get_bucket_tagging(Bucket=gbucket)["TagSet"]
    assert got == [{"Key": "team", "Value": "alpha"}]


def test_bucket_tags_round_trip_for_an_admin(gw: Gateway, gbucket: str, direct: Any) -> None:
    admin = gw.client("admin")
    with pytest.raises(ClientError) as exc:
        admin.get_bucket_tagging(Bucket=gbucket)
    assert (_status(exc), _code(exc)) == (404, "NoSuchTagSet")
    many = {f"k{i}": str(i) for i in range(50)}  # a bucket may have 50 tags
    admin.put_bucket_tagging(Bucket=gbucket, Tagging=_tagset(many))
    got = admin.get_bucket_tagging(Bucket=gbucket)["TagSet"]
    assert {t["Key"]: t["Value"] for t in got} == many
    assert admin.delete_bucket_tagging(Bucket=gbucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _bucket_tags(direct, gbucket) is None


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param({f"k{i}": "v" for i in range(51)}, id="51-tags"),
        pytest.param({"aws:reserved": "v"}, id="aws-prefix"),
        pytest.param({"k" * 129: "v"}, id="key-too-long"),
        pytest.param({"k": "v" * 257}, id="value-too-long"),
        pytest.param({"bad#key": "v"}, id="bad-character"),
    ],
)
def test_bad_bucket_tags_are_invalid_tag_and_change_nothing(
    tags: dict[str, str], gw: Gateway, gbucket: str, direct: Any
) -> None:
    direct.put_bucket_tagging(Bucket=gbucket, Tagging=_tagset({"before": "1"}))
    with pytest.raises(ClientError) as exc:
        gw.client("admin").put_bucket_tagging(Bucket=gbucket, Tagging=_tagset(tags))
    assert (_status(exc), _code(exc)) == (400, "InvalidTag")
    assert _bucket_tags(direct, gbucket) == {"before": "1"}


def test_bucket_tags_are_masked_like_object_tags(gw: Gateway, gbucket: str, direct: Any) -> None:
    """Under @mask the write profile masks values and refuses a key with a
    finding (nothing changed); the read profile hides what the reader may not see."""
    direct.put_bucket_tagging(Bucket=gbucket, Tagging=_tagset({"before": "1"}))
    tagger = gw.client("tagger")
    with pytest.raises(ClientError) as exc:
        tagger.put_bucket_tagging(Bucket=gbucket, Tagging=_tagset({EMAIL: "x"}))
    assert (_status(exc), _code(exc)) == (400, "InvalidTag")
    assert EMAIL.encode() not in exc.value.response["Error"].get("Message", "").encode()
    assert _bucket_tags(direct, gbucket) == {"before": "1"}
    tagger.put_bucket_tagging(Bucket=gbucket, Tagging=_tagset({"owner": EMAIL, "team": "alpha"}))
    stored = _bucket_tags(direct, gbucket)
    assert stored is not None and stored["team"] == "alpha"
    assert EMAIL not in str(stored)
    # Written around the gateway: the masked lister sees them through analyst-view.
    direct.put_bucket_tagging(
        Bucket=gbucket, Tagging=_tagset({"owner": EMAIL, "password": "pw1", CARD: "x", "t": "a"})
    )
    shown = gw.client("tagreader").get_bucket_tagging(Bucket=gbucket)["TagSet"]
    assert sorted(t["Key"] for t in shown) == ["owner", "t"]
    assert EMAIL not in str(shown)
    # The unmasked lister sees them as stored.
    raw = gw.client("reader").get_bucket_tagging(Bucket=gbucket)["TagSet"]
    assert EMAIL in str(raw)
