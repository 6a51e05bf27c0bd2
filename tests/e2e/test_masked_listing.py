"""Listings as a masked reader sees them: oracle tests.

Nothing in a listing may let a principal test a guess about bytes it may not
see (invariant 9): for an analyst, whose reads go through `analyst-view`,
a listing's Size, ETag and LastModified are the *view's* (equal to HEAD and
to the body of a GET), and a page that hides keys tells no more than a
listing of only the visible keys would — no `IsTruncated` on an empty page, no
bisection of `StartAfter` that finds where a hidden key sits, `KeyCount`
equal to what the page shows, continuation tokens that name nothing.

The gateway here has a per-key `forbid` (keys containing "hidden"), the
strongest case for hidden keys: they sit between visible ones.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError

from tests.e2e.clients import aws
from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.promtext import samples

BUCKET = "traces"
POLICY = """
@id("e2e.writer-write")
@mask("write-default")
permit (principal is Service in Group::"trace-writers", action in Action::"write", resource)
when { resource.bucket == "traces" };

@id("e2e.writer-list")
permit (principal is Service in Group::"trace-writers", action in Action::"list", resource)
when { resource.bucket == "traces" };

@id("e2e.analyst-read")
@mask("analyst-view")
permit (principal is Service in Group::"analysts", action in Action::"read", resource)
when { resource.bucket == "traces" };

@id("e2e.analyst-list")
permit (principal is Service in Group::"analysts", action in Action::"list", resource)
when { resource.bucket == "traces" };

@id("e2e.analyst-hidden")
forbid (principal is Service in Group::"analysts", action, resource)
when { resource.key like "*hidden*" };
"""
IDENTITIES = {"admin": ("admins",), "writer": ("trace-writers",), "analyst": ("analysts",)}
# An IP address that analyst-view redacts (write-default keeps it).
TRACE = b'{"step": 1, "client_ip": "10.1.2.3", "note": "from 192.168.7.42 ok"}\n' * 50


@pytest.fixture(scope="module")
def gw(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    folder = tmp_path_factory.mktemp("masked-listing")
    policies = folder / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "access" / "e2e-listing.cedar").write_text(POLICY)
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
    return f"l{uuid.uuid4().hex[:10]}/"


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


@pytest.mark.parametrize("written", ["through-gateway", "around-gateway"])
def test_listing_shows_the_views_size_etag_and_time(
    gw: Gateway, direct: Any, prefix: str, written: str
) -> None:
    key = prefix + "run.jsonl"
    if written == "through-gateway":
        gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    else:
        direct.put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    stored = direct.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    analyst = gw.client("analyst")
    body = analyst.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert b"192.168.7.42" not in body and body != stored  # the view differs
    head = analyst.head_object(Bucket=BUCKET, Key=key)
    v2 = analyst.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    v1 = analyst.list_objects(Bucket=BUCKET, Prefix=prefix)["Contents"]
    for listed in (v2, v1):
        assert [o["Key"] for o in listed] == [key]
        (entry,) = listed
        assert entry["Size"] == head["ContentLength"] == len(body)
        assert entry["ETag"] == head["ETag"] == _md5(body)
        assert entry["LastModified"] == head["LastModified"]
        # Nothing of the stored bytes: their MD5 (which confirms a guess of a
        # redacted value offline) and their size are not shown.
        assert entry["ETag"] != _md5(stored)
        assert entry["Size"] != len(stored)


def test_guess_of_a_redacted_value_cannot_be_confirmed(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """The analyst knows the record's shape and guesses the redacted IP; no
    listing field equals the MD5 or size of the stored bytes under a guess."""
    key = prefix + "one.jsonl"
    secret = b'{"client_ip": "10.9.8.7"}\n'
    direct.put_object(Bucket=BUCKET, Key=key, Body=secret)
    analyst = gw.client("analyst")
    listed = analyst.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"][0]
    guesses = [f'{{"client_ip": "10.9.8.{i}"}}\n'.encode() for i in range(256)]
    assert secret in guesses
    assert {_md5(g) for g in guesses}.isdisjoint({listed["ETag"]})
    view = analyst.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert listed["ETag"] == _md5(view) and b"10.9.8.7" not in view


# ---- hidden keys ---------------------------------------------------------

NAMES = ["a", "b-hidden-1", "b-hidden-2", "b-hidden-3", "c", "d-hidden", "e", "f-hidden"]


@pytest.fixture
def hidden_layout(direct: Any, prefix: str) -> list[str]:
    for name in NAMES:
        direct.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"{}\n")
    return [prefix + n for n in NAMES if "hidden" not in n]


def _model(visible: list[str], after: str, max_keys: int) -> tuple[list[str], bool]:
    """What a listing of only the visible keys answers."""
    rest = [k for k in visible if k > after]
    return rest[:max_keys], len(rest) > max_keys


PROBES = ["", "a", "a0", "b", "b-hidden-1", "b-hidden-2", "b-hidden-3", "b-z", "c", "d", "e", "f"]


@pytest.mark.parametrize("max_keys", [1, 2])
def test_start_after_bisection_finds_nothing(
    gw: Gateway, prefix: str, hidden_layout: list[str], max_keys: int
) -> None:
    analyst = gw.client("analyst")
    for probe in PROBES:
        after = prefix + probe if probe else ""
        kwargs: dict[str, Any] = {"Bucket": BUCKET, "Prefix": prefix, "MaxKeys": max_keys}
        if after:
            kwargs["StartAfter"] = after
        got = analyst.list_objects_v2(**kwargs)
        keys = [o["Key"] for o in got.get("Contents", [])]
        expected, truncated = _model(hidden_layout, after, max_keys)
        assert (keys, got["IsTruncated"], got["KeyCount"]) == (
            expected,
            truncated,
            len(expected),
        ), probe
        assert ("NextContinuationToken" in got) == truncated
        v1_kwargs = {k: v for k, v in kwargs.items() if k != "StartAfter"}
        if after:
            v1_kwargs["Marker"] = after
        v1 = analyst.list_objects(**v1_kwargs)
        assert [o["Key"] for o in v1.get("Contents", [])] == expected, probe
        assert v1["IsTruncated"] == truncated, probe


def test_only_hidden_keys_give_an_empty_untruncated_page(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    for i in range(5):
        direct.put_object(Bucket=BUCKET, Key=f"{prefix}x-hidden-{i}", Body=b"{}\n")
    analyst = gw.client("analyst")
    for max_keys in (1, 3, 1000):
        got = analyst.list_objects_v2(Bucket=BUCKET, Prefix=prefix, MaxKeys=max_keys)
        assert got["KeyCount"] == 0 and not got["IsTruncated"] and "Contents" not in got
        assert "NextContinuationToken" not in got
        v1 = analyst.list_objects(Bucket=BUCKET, Prefix=prefix, MaxKeys=max_keys)
        assert not v1["IsTruncated"] and "NextMarker" not in v1


def test_paging_with_tokens_shows_exactly_the_visible_keys(
    gw: Gateway, prefix: str, hidden_layout: list[str]
) -> None:
    analyst = gw.client("analyst")
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": BUCKET, "Prefix": prefix, "MaxKeys": 1}
    pages = 0
    while True:
        got = analyst.list_objects_v2(**kwargs)
        pages += 1
        page = [o["Key"] for o in got.get("Contents", [])]
        assert got["KeyCount"] == len(page) == 1  # every page full: no empty pages
        seen += page
        if not got["IsTruncated"]:
            break
        token = got["NextContinuationToken"]
        assert token.startswith("s3g2-")  # sealed: it names no key
        raw = base64.urlsafe_b64decode(token.partition(".")[2] + "==")
        assert all((prefix + n).encode() not in raw and prefix + n not in token for n in NAMES)
        kwargs["ContinuationToken"] = token
    assert seen == hidden_layout and pages == len(hidden_layout)
    # A token made up by the client is refused, not followed.
    with pytest.raises(ClientError) as exc:
        analyst.list_objects_v2(Bucket=BUCKET, Prefix=prefix, ContinuationToken=prefix + "b")
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_delimiter_listing_counts_prefixes_and_hides_hidden_ones(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    for name in ("a/1", "b-hidden/1", "c/1", "d"):
        direct.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"{}\n")
    analyst = gw.client("analyst")
    got = analyst.list_objects_v2(
        Bucket=BUCKET, Prefix=prefix, Delimiter="/", MaxKeys=1, StartAfter=prefix + "a/"
    )
    assert [p["Prefix"] for p in got.get("CommonPrefixes", [])] == [prefix + "c/"]
    assert got["KeyCount"] == 1 and got["IsTruncated"]
    rest = analyst.list_objects_v2(
        Bucket=BUCKET, Prefix=prefix, Delimiter="/", ContinuationToken=got["NextContinuationToken"]
    )
    assert [o["Key"] for o in rest.get("Contents", [])] == [prefix + "d"]
    assert not rest["IsTruncated"] and rest["KeyCount"] == 1


def _bundle_hash(gw: Gateway) -> str:
    status, data = gw.status("admin")  # readyz is a status only
    assert status == 200, data
    value: str = data["policy"]["bundle_hash"]
    return value


def test_a_profile_change_serves_only_views_of_the_new_profile(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """After the analyst profile changes, listing, HEAD and GET all show the
    view the new profile makes — never the one made (and stored) before."""
    key = prefix + "p.jsonl"
    # Written around the gateway: write-default now tokenizes IP addresses, so
    # only an object stored as it is still holds one for the analyst view.
    direct.put_object(Bucket=BUCKET, Key=key, Body=TRACE)
    analyst = gw.client("analyst")
    before = analyst.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert b"192.168.7.42" not in before
    profile = gw.config_path.parent / "policies" / "masking" / "analyst-view.yaml"
    original = profile.read_text()
    old_hash = _bundle_hash(gw)
    try:
        profile.write_text(
            original.replace("  ipv4: redact\n", "  ipv4: {operator: mask, keep_last: 2}\n")
        )
        deadline = time.monotonic() + 20
        while _bundle_hash(gw) == old_hash:
            assert time.monotonic() < deadline, "the changed profile was not loaded"
            time.sleep(0.1)
        after = analyst.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert after != before and b"42" in after and b"192.168.7.42" not in after
        head = analyst.head_object(Bucket=BUCKET, Key=key)
        (listed,) = analyst.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
        assert listed["ETag"] == head["ETag"] == _md5(after)
        assert listed["Size"] == head["ContentLength"] == len(after)
    finally:
        profile.write_text(original)
        deadline = time.monotonic() + 20
        while _bundle_hash(gw) != old_hash and time.monotonic() < deadline:
            time.sleep(0.1)
    # Back to the first profile: its view (still in the store) is served again.
    assert analyst.get_object(Bucket=BUCKET, Key=key)["Body"].read() == before


def _views_built(gw: Gateway, when: str) -> float:
    text = urllib3.request("GET", f"{gw.endpoint}/_s3gate/metrics").data.decode()
    return samples(text)[("s3gate_views_built_total", (("when", when),))]


def _rebuild(gw: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "s3gate", "views", "rebuild", "--config", str(gw.config_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3GATE_"))}
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=env, timeout=120)


def test_views_rebuild_makes_the_missing_views_once(gw: Gateway, direct: Any, prefix: str) -> None:
    """Objects written around the gateway get their views from `s3gate views
    rebuild`; a second run builds nothing; readers then build nothing either."""
    names = [f"r{i}.jsonl" for i in range(3)]
    for i, name in enumerate(names):
        direct.put_object(Bucket=BUCKET, Key=prefix + name, Body=TRACE + b'{"i": %d}\n' % i)
    first = _rebuild(gw, "--bucket", BUCKET, "--prefix", prefix)
    assert first.returncode == 0, first.stderr
    assert "keys 3: built 3, already there 0, refused 0" in first.stdout
    stored = direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/views/")["Contents"]
    made = {o["Key"] for o in stored if f"/{prefix}" in o["Key"]}
    assert len(made) == 3
    second = _rebuild(gw, "--bucket", BUCKET, "--prefix", prefix)
    assert "keys 3: built 0, already there 3, refused 0" in second.stdout
    analyst = gw.client("analyst")
    built = _views_built(gw, "read")
    listed = analyst.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    for entry in listed:
        body = analyst.get_object(Bucket=BUCKET, Key=entry["Key"])["Body"].read()
        assert entry["ETag"] == _md5(body) and entry["Size"] == len(body)
        assert b"192.168.7.42" not in body
        assert any(k.endswith(f"/{hashlib.md5(body).hexdigest()}-{len(body)}") for k in made)
    assert _views_built(gw, "read") == built  # served what rebuild made
    unknown = _rebuild(gw, "--bucket", BUCKET, "--profile", "no-such-profile")
    assert unknown.returncode != 0 and "no-such-profile" in unknown.stderr


def test_aws_sync_up_skips_unchanged_files_masking_changed(
    gw: Gateway, prefix: str, tmp_path: Path
) -> None:
    """The decided behaviour (docs/masking.md, "Writers: syncing under a
    masking write profile"): a writer's listing shows it the size of what it
    sent (tests/e2e/test_writer_sync.py has the oracle tests), so `aws s3
    sync` up uploads nothing the second time, masked or not."""
    src = tmp_path / "up"
    src.mkdir()
    (src / "masked.jsonl").write_bytes(b'{"note": "write to jane.doe@example.com"}\n' * 20)
    (src / "clean.jsonl").write_bytes(b'{"step": 1, "thought": "nothing to hide"}\n')
    # Files older than their upload: sync then compares sizes only (a file
    # written in the second of its upload looks newer than the object, whose
    # LastModified has whole seconds).
    hour_ago = time.time() - 3600
    for path in src.iterdir():
        os.utime(path, (hour_ago, hour_ago))
    url = f"s3://{BUCKET}/{prefix}"
    first = aws(gw, "s3", "sync", str(src), url, identity="writer")
    assert first.stdout.count("upload:") == 2
    second = aws(gw, "s3", "sync", str(src), url, identity="writer")
    assert "upload:" not in second.stdout, second.stdout


def test_an_object_the_profile_refuses_is_left_out_of_listings(
    gw: Gateway, direct: Any, prefix: str
) -> None:
    """analyst-view blocks binary content: such an object has no view, so the
    listing cannot show a view's size or ETag for it — it is left out (and
    the listing does not fail); HEAD and GET refuse it."""
    direct.put_object(Bucket=BUCKET, Key=prefix + "a.jsonl", Body=TRACE)
    direct.put_object(Bucket=BUCKET, Key=prefix + "b.bin", Body=bytes(range(256)) * 64)
    analyst = gw.client("analyst")
    for _ in range(2):  # the second listing remembers the refusal
        listed = analyst.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        assert [o["Key"] for o in listed["Contents"]] == [prefix + "a.jsonl"]
        assert listed["KeyCount"] == 1 and not listed["IsTruncated"]
    with pytest.raises(ClientError) as exc:
        analyst.head_object(Bucket=BUCKET, Key=prefix + "b.bin")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    stored = direct.list_objects_v2(Bucket=BUCKET, Prefix=".s3gate/views/")["Contents"]
    assert not [o["Key"] for o in stored if f"/{prefix}b.bin/" in o["Key"]]


@pytest.fixture(scope="module")
def bounded(
    moto_endpoint: str, gw: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """The same policies, one upstream LIST per request at most."""
    folder = tmp_path_factory.mktemp("bounded-listing")
    extra = {
        "policy": {"dir": str(gw.config_path.parent / "policies")},
        "server": {"list_upstream_pages": 1},
    }
    gateway = start_gateway(folder, moto_endpoint, IDENTITIES, extra=extra)
    yield gateway
    gateway.stop()


def test_the_upstream_call_bound_cuts_pages_short_but_paging_completes(
    bounded: Gateway, direct: Any, prefix: str
) -> None:
    """The documented residue: past `server.list_upstream_pages` calls in a
    run of hidden keys a page comes back short and truncated, resuming from a
    sealed position; paging still yields exactly the visible keys."""
    names = ["a", *(f"h-hidden-{i}" for i in range(6)), "z"]
    for name in names:
        direct.put_object(Bucket=BUCKET, Key=prefix + name, Body=b"{}\n")
    analyst = bounded.client("analyst")
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": BUCKET, "Prefix": prefix, "MaxKeys": 1}
    short = 0
    for _ in range(20):
        got = analyst.list_objects_v2(**kwargs)
        page = [o["Key"] for o in got.get("Contents", [])]
        short += not page
        seen += page
        if not got["IsTruncated"]:
            break
        assert got["NextContinuationToken"].startswith("s3g2-")
        kwargs["ContinuationToken"] = got["NextContinuationToken"]
    assert seen == [prefix + "a", prefix + "z"]
    assert short > 0  # the bound was reached inside the hidden run
