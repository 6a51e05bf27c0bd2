"""Metadata and content headers through the profiles (masking.metadata) and
the header text forms (masking.headertext)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3gate import errors
from s3gate.masking import headertext
from s3gate.masking.metadata import mask_for_read, mask_for_write
from s3gate.s3.headers import stored_metadata
from s3gate.transform.errors import HeaderRefused, MaskingBlocked, MaskingHeld
from s3gate.transform.plan import plan_for
from s3gate.transform.summary import MaskSummary
from tests.unit.transform.helpers import example

EMAIL = "alice@example.com"


def b_word(text: str) -> str:
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def write(metadata: dict[str, str], profile: str = "write-default") -> dict[str, str]:
    return mask_for_write(metadata, plan_for([example(profile)]), MaskSummary())


def read(metadata: dict[str, str], profile: str = "analyst-view") -> dict[str, str]:
    return mask_for_read(metadata, plan_for([example(profile)]))


@pytest.mark.parametrize(
    ("value", "text", "form"),
    [
        ("plain", "plain", "plain"),
        ("caf\xe9", "caf\xe9", "plain"),  # latin-1 byte, not UTF-8
        ("café".encode().decode("latin-1"), "café", "utf8"),
        (b_word("é x"), "é x", "rfc2047"),
        ("=?utf-8?q?a=40b_c?=", "a@b c", "rfc2047"),
        ("pre " + b_word("a") + "  " + b_word("b") + " post", "pre ab post", "rfc2047"),
        ("=?iso-8859-1?Q?caf=E9?=", "café", "rfc2047"),
        ("not =? a word", "not =? a word", "plain"),
    ],
)
def test_decode(value: str, text: str, form: str) -> None:
    got = headertext.decode(value)
    assert (got.text, got.form) == (text, form)


@pytest.mark.parametrize(
    "value", ["=?KOI8-R?B?8tXT?=", "=?UTF-8?B?!!!?=", "=?UTF-8?Q?=Z?=", "=?UTF-8?B?/w==?="]
)
def test_undecodable_words(value: str) -> None:
    with pytest.raises(headertext.Undecodable):
        headertext.decode(value)


@pytest.mark.parametrize(
    ("text", "form", "value"),
    [
        ("tok", "plain", "tok"),
        ("café tok", "utf8", "café tok".encode().decode("latin-1")),
        ("é tok", "rfc2047", b_word("é tok")),
        ("line\r\nbreak", "plain", b_word("line\r\nbreak")),  # never CR/LF in a header
        ("中 tok", "plain", b_word("中 tok")),  # not latin-1
    ],
)
def test_encode(text: str, form: headertext.Form, value: str) -> None:
    out = headertext.encode(text, form)
    assert out == value and headertext.safe(out)
    assert headertext.decode(out).text == text


@pytest.mark.parametrize(
    ("metadata", "absent"),
    [
        ({"x-amz-meta-note": f"by {EMAIL}"}, EMAIL),
        ({"x-amz-meta-note": b_word(f"é {EMAIL}")}, EMAIL),
        ({"x-amz-meta-note": f"café {EMAIL}".encode().decode("latin-1")}, EMAIL),
        ({"x-amz-meta-cc": "4111 1111 1111 1111"}, "4111 1111"),
        ({"x-amz-meta-password": "hunter2-Secret"}, "hunter2"),  # field rule by name
        ({"x-amz-meta-api-key": "a8f5f167f44f4964e6c998dee827110c"}, "a8f5f167"),
        ({"x-amz-meta-s3gate-forged": EMAIL}, EMAIL),  # inspected, like any name
    ],
)
def test_user_metadata_is_masked_both_ways(metadata: dict[str, str], absent: str) -> None:
    for out in (write(metadata), read(metadata)):
        assert all(
            absent not in v and absent not in headertext.decode(v).text for v in out.values()
        )
        assert all(headertext.safe(v) for v in out.values())


def test_unchanged_values_are_byte_identical_and_counted() -> None:
    metadata = {
        "content-type": "application/json",
        "x-amz-meta-run": "run-42",
        "x-amz-meta-word": b_word("é"),
        "x-amz-meta-note": EMAIL,
    }
    summary = MaskSummary()
    out = mask_for_write(metadata, plan_for([example("write-default")]), summary)
    assert {k: v for k, v in out.items() if k != "x-amz-meta-note"} == {
        k: v for k, v in metadata.items() if k != "x-amz-meta-note"
    }
    assert out["x-amz-meta-note"].startswith("tok_")
    assert summary.detectors["email"] == 1


def test_analyst_drop_rule_removes_the_entry() -> None:
    assert read({"x-amz-meta-password": "pw1", "x-amz-meta-a": "b"}) == {"x-amz-meta-a": "b"}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("content-disposition", f'attachment; filename="{EMAIL}.txt"'),
        ("content-disposition", "attachment; filename*=UTF-8''alice%40example.com"),
        ("content-disposition", 'attachment; filename="alice\\@example.com"'),
        ("content-disposition", "attachment; filename=" + b_word(EMAIL)),
        ("cache-control", "max-age=1, x=AKIAIOSFODNN7EXAMPLE"),
        ("content-language", "en, 4111111111111111"),
        ("content-type", f"text/plain; note={EMAIL}"),
        ("expires", f"Thu, 01 Dec 2094 16:00:00 GMT {EMAIL}"),
        ("x-amz-website-redirect-location", "https://app:s3cr3t-Pw@db.internal/x"),
        ("content-disposition", "attachment; filename==?KOI8-R?B?8tXT?="),
    ],
)
def test_content_headers_with_findings_are_refused_on_write_hidden_on_read(
    header: str, value: str
) -> None:
    with pytest.raises(HeaderRefused) as exc:
        write({header: value, "x-amz-meta-a": "b"})
    assert exc.value.code == "InvalidArgument" and header in exc.value.message
    assert exc.value.extra == {"ArgumentName": header}
    assert "alice" not in exc.value.message and "AKIA" not in exc.value.message
    assert read({header: value, "x-amz-meta-a": "b"}) == {"x-amz-meta-a": "b"}


def test_a_name_with_a_finding_is_refused() -> None:
    with pytest.raises(HeaderRefused) as exc:
        write({"x-amz-meta-4111111111111111": "x"})
    assert "4111" not in exc.value.message
    assert read({"x-amz-meta-4111111111111111": "x", "x-amz-meta-a": "b"}) == {"x-amz-meta-a": "b"}


def test_block_refuses_both_ways() -> None:
    metadata = {"x-amz-meta-cfg": "key AKIAIOSFODNN7EXAMPLE"}
    with pytest.raises(MaskingBlocked):
        write(metadata, "write-strict")
    with pytest.raises(MaskingBlocked):
        mask_for_read(metadata, plan_for([example("write-strict")]))


@pytest.mark.parametrize(
    "metadata",
    [
        {"x-amz-meta-note": "about Project Nightjar"},
        {"content-disposition": 'attachment; filename="bluebird-x.txt"'},
    ],
)
def test_hold_refuses_as_held(metadata: dict[str, str]) -> None:
    with pytest.raises(MaskingHeld):
        write(metadata, "write-strict")
    with pytest.raises(MaskingHeld):
        mask_for_read(metadata, plan_for([example("write-strict")]))


def test_masked_metadata_over_the_limit_is_refused() -> None:
    metadata = {f"x-amz-meta-m{i}": f"a{i}@example.com" for i in range(60)}
    with pytest.raises(errors.MetadataTooLarge):
        write(metadata)


def test_clients_never_set_the_gateway_stamp() -> None:
    headers = {"x-amz-meta-s3gate-mask-profiles": "forged", "x-amz-meta-a": "b"}
    assert stored_metadata(headers) == {"x-amz-meta-a": "b"}


def q_word(text: str) -> str:
    data = text.encode()
    body = "".join(chr(b) if chr(b).isalnum() else f"={b:02X}" for b in data)
    return f"=?utf-8?Q?{body}?="


CANARIES = [EMAIL, "sk-ant-api03-" + "Zx9_Qw-7" * 10 + "AA", "4111111111111111"]
FORMS = [
    lambda t: t,
    b_word,
    q_word,
    lambda t: t.encode().decode("latin-1"),
    lambda t: "pre " + b_word(t[:5]) + " " + b_word(t[5:]) + " post",
]


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(
        st.tuples(
            st.text("abcdefghij-", min_size=1, max_size=8),
            st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=10),
            st.sampled_from(CANARIES),
            st.sampled_from(range(len(FORMS))),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_property_no_canary_survives_any_form(entries: list[tuple[str, str, str, int]]) -> None:
    metadata = {
        f"x-amz-meta-{name}": FORMS[form](f"{before} {canary} x")
        for name, before, canary, form in entries
    }
    for out in (write(metadata), read(metadata)):
        for value in out.values():
            assert headertext.safe(value)
            text = headertext.decode(value).text
            assert not any(c in text or c in value for c in CANARIES)
