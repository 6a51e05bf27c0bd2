"""The gateway-side masking pieces: sealed staging streams, sealed listing
tokens, client content-hash metadata and the bundle's @mask check."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s3gate import errors
from s3gate.masking import clientmeta, sealed
from s3gate.masking.checks import MaskingExamplesSuite
from s3gate.masking.profiles import MaskingPart
from s3gate.policy.loader import load_bundle
from s3gate.policy.settings import PolicySettings
from s3gate.policy.source import BundleError
from s3gate.s3.listtokens import ListTokens
from s3gate.transform.tokenkeys import TokenKeys, generate_json

POLICIES = Path(__file__).resolve().parents[3] / "policies"
KEY = AESGCM(AESGCM.generate_key(bit_length=256))


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([piece async for piece in stream])


@pytest.mark.parametrize(
    "length", [0, 1, 1000, sealed.RECORD - 1, sealed.RECORD, sealed.RECORD + 1, 3 * sealed.RECORD]
)
async def test_sealed_round_trip_and_exact_length(length: int) -> None:
    data = os.urandom(length)
    out = await _collect(sealed.seal(KEY, b"ctx", _pieces(data, 70_000), length))
    assert len(out) == sealed.sealed_length(length)
    assert data[:64] not in out or length < 64
    back = await _collect(sealed.open_sealed(KEY, b"ctx", _pieces(out, 50_000), len(out)))
    assert back == data


async def _sealed(data: bytes) -> bytes:
    return await _collect(sealed.seal(KEY, b"ctx", _pieces(data, 4096), len(data)))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # flipped bit
        lambda b: b[: sealed.RECORD + sealed.OVERHEAD],  # truncated at a record boundary
        lambda b: b[sealed.RECORD + sealed.OVERHEAD :] + b[: sealed.RECORD + sealed.OVERHEAD],
    ],
)
async def test_sealed_tampering_fails(tamper) -> None:  # type: ignore[no-untyped-def]
    out = tamper(await _sealed(os.urandom(2 * sealed.RECORD + 10)))
    with pytest.raises(errors.InternalError):
        await _collect(sealed.open_sealed(KEY, b"ctx", _pieces(out, 65536), len(out)))


async def test_sealed_is_bound_to_its_context() -> None:
    out = await _sealed(b"part one")
    with pytest.raises(errors.InternalError):
        await _collect(sealed.open_sealed(KEY, b"other", _pieces(out, 10), len(out)))


async def test_sealing_a_short_source_raises() -> None:
    with pytest.raises(errors.IncompleteBody):
        await _collect(sealed.seal(KEY, b"ctx", _pieces(b"abc", 1), 10))


def test_list_tokens() -> None:
    tokens = ListTokens.ephemeral()
    token = tokens.seal("traces", "team-b/secret-name.jsonl")
    assert "secret-name" not in token
    assert tokens.open("traces", token) == "team-b/secret-name.jsonl"
    with pytest.raises(errors.InvalidArgument):
        tokens.open("other-bucket", token)
    with pytest.raises(errors.InvalidArgument):
        ListTokens.ephemeral().open("traces", token)
    assert tokens.open_marker("traces", "plain/key") == "plain/key"
    assert tokens.open_marker("traces", token) == "team-b/secret-name.jsonl"
    assert tokens.open_marker("traces", "s3g2-looks-like-a-token") == "s3g2-looks-like-a-token"


def test_list_tokens_survive_a_key_rotation() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = ListTokens({"k1": old}, "k1").seal("traces", "a/b")
    after_rotation = ListTokens({"k1": old, "k2": new}, "k2")
    assert after_rotation.open("traces", before) == "a/b"
    assert after_rotation.seal("traces", "x").startswith("s3g2-k2.")
    with pytest.raises(errors.InvalidArgument):
        ListTokens({"k2": new}, "k2").open("traces", before)  # k1 withdrawn


@pytest.mark.parametrize(
    ("md5", "attrs"),
    [
        ("ffff", "atime:1/mode:33188/md5:ffff"),
        (None, "atime:1/mode:33188"),  # a view sent as it is made: MD5 not known yet
    ],
)
def test_client_hash_metadata_describes_the_stored_bytes(md5: str | None, attrs: str) -> None:
    meta = {
        "x-amz-meta-s3cmd-attrs": "atime:1/md5:0123/mode:33188",
        "x-amz-meta-md5chksum": "AAAA",
        "x-amz-meta-team": "a",
    }
    clientmeta.describe(meta, md5)
    assert meta == {"x-amz-meta-s3cmd-attrs": attrs, "x-amz-meta-team": "a"}


@pytest.mark.parametrize(
    ("annotation", "rejected"),
    [
        ('@mask("analyst-view")', False),
        ('@mask ("analyst-view")', False),
        ('@mask("analyst-veiw")', True),
        # Valid Cedar with a space: once accepted by a regex that missed it.
        ('@mask ("analyst-veiw")', True),
        ('@mask(\n  "analyst-veiw"\n)', True),
        ('@mask\t("analyst-veiw")', True),
        # A comment is not an annotation, whatever it looks like.
        ('// @mask("analyst-veiw")\n', False),
    ],
)
def test_every_mask_of_the_parsed_bundle_names_a_profile(
    tmp_path: Path, annotation: str, rejected: bool
) -> None:
    import shutil

    shutil.copytree(POLICIES, tmp_path / "p")
    (tmp_path / "p" / "access" / "zz-extra.cedar").write_text(
        f'\n@id("zz.extra")\n{annotation}\n'
        'permit (principal in Role::"analyst", action in Action::"read", resource)\n'
        'when { resource.bucket == "traces" };\n'
    )
    if not rejected:
        bundle = _bundle(tmp_path / "p")
        assert "zz.extra" in bundle.policies
        return
    with pytest.raises(BundleError) as caught:
        _bundle(tmp_path / "p")
    assert [(p.file, p.line, p.message) for p in caught.value.problems] == [
        ("access/zz-extra.cedar", 2, "@mask names no profile: 'analyst-veiw'")
    ]


def _bundle(directory: Path):  # type: ignore[no-untyped-def]
    part = MaskingPart(TokenKeys.from_json(generate_json()))
    return load_bundle(PolicySettings(dir=directory), directory, parts=[part])


def test_examples_suite_passes_on_the_shipped_profiles() -> None:
    results = list(MaskingExamplesSuite().run(POLICIES, _bundle(POLICIES)))
    assert results and all(r.passed for r in results)


def test_examples_suite_reports_a_failing_example(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(POLICIES, tmp_path / "p")
    profile = tmp_path / "p" / "masking" / "analyst-view.yaml"
    profile.write_text(
        profile.read_text().replace("negative: ['CUST-12',", "negative: ['CUST-1234567',")
    )
    results = list(MaskingExamplesSuite().run(tmp_path / "p", _bundle(tmp_path / "p")))
    failed = [r for r in results if not r.passed]
    assert failed and "customer_id" in failed[0].name + failed[0].message


def test_a_missing_profile_rejects_the_bundle(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(POLICIES, tmp_path / "p")
    (tmp_path / "p" / "masking" / "analyst-view.yaml").unlink()
    with pytest.raises(BundleError, match="analyst-view"):
        _bundle(tmp_path / "p")
