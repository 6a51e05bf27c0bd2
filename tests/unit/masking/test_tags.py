"""Tags through the profiles (masking.tags), alone and as the x-amz-tagging
header of a write (masking.metadata)."""

from __future__ import annotations

import pytest

from s3gate.masking import tags
from s3gate.masking.metadata import mask_for_read as meta_read
from s3gate.masking.metadata import mask_for_write as meta_write
from s3gate.s3.tagging import Tag, TagSet, allowed, header_value, parse_header
from s3gate.transform.errors import MaskingBlocked, TagRefused
from s3gate.transform.plan import plan_for
from s3gate.transform.summary import MaskSummary
from tests.unit.transform.helpers import example

EMAIL = "alice@example.com"
KEY = "AKIAIOSFODNN7EXAMPLE"
CARD = "4111111111111111"


def write(t: TagSet, profile: str = "write-default") -> TagSet:
    return tags.mask_for_write(t, plan_for([example(profile)]), MaskSummary())


def read(t: TagSet, profile: str = "analyst-view") -> TagSet:
    return tags.mask_for_read(t, plan_for([example(profile)]))


@pytest.mark.parametrize(
    ("given", "check"),
    [
        # Values: masked in place, the rest byte-identical.
        ((Tag("owner", EMAIL), Tag("team", "alpha")), lambda out: out[1] == Tag("team", "alpha")),
        ((Tag("owner", EMAIL),), lambda out: out[0].value.startswith("tok_")),
        ((Tag("note", f"key {KEY}"),), lambda out: KEY not in out[0].value),
        ((Tag("card", CARD),), lambda out: CARD not in out[0].value),
        # Field rules see tag keys as JSON keys.
        ((Tag("password", "pw1"), Tag("a", "b")), lambda out: out[0].value != "pw1"),
        ((Tag("cookie", "session=1"),), lambda out: out[0].value != "session=1"),
        # Nothing found: unchanged.
        ((Tag("team", "alpha"), Tag("run", "42")), lambda out: out == write(out)),
    ],
)
def test_values_are_masked_on_write(given: TagSet, check: object) -> None:
    out = write(given)
    assert [t.key for t in out] == [t.key for t in given]
    assert all(allowed(t.value) for t in out)  # S3 would refuse `[REDACTED:…]`
    assert callable(check) and check(out)


@pytest.mark.parametrize("key", [EMAIL, CARD, "alice%40example.com", f"id-{KEY}"])
def test_a_finding_in_a_key_refuses_the_write_and_hides_the_tag_on_read(key: str) -> None:
    with pytest.raises(TagRefused) as exc:
        write((Tag(key, "x"), Tag("a", "b")))
    assert exc.value.error_code == "InvalidTag"
    assert "alice" not in exc.value.message and "4111" not in exc.value.message
    assert read((Tag(key, "x"), Tag("a", "b"))) == (Tag("a", "b"),)


def test_read_profile_drops_and_masks() -> None:
    shown = read(
        (Tag("password", "pw1"), Tag("owner", EMAIL), Tag("github_token", "x"), Tag("a", "b"))
    )
    assert [t.key for t in shown] == ["owner", "a"]
    assert shown[0].value.startswith("tok_") and EMAIL not in shown[0].value


def test_tokens_are_stable_between_write_and_read() -> None:
    # Same token keys: a tag tokenized on write joins a value tokenized on read.
    assert write((Tag("owner", EMAIL),)) == write((Tag("owner", EMAIL),))


def test_block_refuses_whatever_tag_it_hits() -> None:
    with pytest.raises(MaskingBlocked):
        write((Tag("k", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n"),), "write-strict")


def test_a_masked_value_over_the_limit_is_refused_not_cut() -> None:
    long = "x" * 230 + " " + EMAIL  # 248 characters; its token is longer
    with pytest.raises(Exception) as exc:
        write((Tag("k", long),))
    assert getattr(exc.value, "error_code", "") == "InvalidTag"


def test_the_header_of_a_write_is_masked_with_the_metadata() -> None:
    stored = meta_write(
        {"x-amz-tagging": header_value((Tag("owner", EMAIL), Tag("t", "a"))), "x-amz-meta-a": "b"},
        plan_for([example("write-default")]),
        MaskSummary(),
    )
    assert EMAIL not in stored["x-amz-tagging"] and "%40" not in stored["x-amz-tagging"]
    assert parse_header(stored["x-amz-tagging"])[1] == Tag("t", "a")
    assert stored["x-amz-meta-a"] == "b"


def test_a_header_whose_tags_all_go_is_left_out() -> None:
    shown = meta_read(
        {"x-amz-tagging": "password=pw1", "x-amz-meta-a": "b"}, plan_for([example("analyst-view")])
    )
    assert shown == {"x-amz-meta-a": "b"}


def test_a_header_with_a_finding_in_a_key_refuses_the_write() -> None:
    with pytest.raises(TagRefused):
        meta_write(
            {"x-amz-tagging": "alice%40example.com=x"},
            plan_for([example("write-default")]),
            MaskSummary(),
        )
