"""The streaming engine: fidelity, chunking, content types, limits, gzip,
determinism and token keys."""

from __future__ import annotations

import gzip
import json

import pytest

from s3gate import errors
from s3gate.transform.errors import MaskingBlocked, MaskLimitExceeded, UnreadableContent
from s3gate.transform.settings import Limits
from s3gate.transform.tokenkeys import TokenKeys
from tests.unit.transform.helpers import example, mask, mask_chunks, profile, split

EMAIL = "alice.smith@example.com"
SECRETS = profile(
    "detectors: {email: tokenize, credit_card: redact, private_key: redact, "
    "secret_assignment: redact, aws_access_key_id: redact, phone: redact}"
)
CORPUS = (
    b'{"a": 1,   "b": [1.0, 2e5, "\\u00e9t\\u00e9"], "t": "2024-05-01T12:34:56Z"}\n'
    b"\n"
    b'{"mail": "alice.smith@example.com", "note": "card 4111 1111 1111 1111 ok"}\r\n'
    b'{"k": "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEA0Z3VS5'
    b'\\n-----END RSA PRIVATE KEY-----"}\n'
    b"not json at all: AKIAIOSFODNN7EXAMPLE and DB_PASSWORD=hunter2!\n"
    b'{"last": "call +1 415 555 0132"}'
)


def test_untouched_records_are_byte_identical() -> None:
    out, summary = mask(SECRETS, CORPUS)
    lines = out.split(b"\n")
    assert lines[0] == CORPUS.split(b"\n")[0]
    assert lines[1] == b""
    assert lines[2].endswith(b"\r") and b"alice" not in lines[2] and b"4111" not in lines[2]
    assert b"MIIE" not in out and b"AKIA" not in out and b"hunter2" not in out
    assert b"415 555" not in out
    assert summary.records == 6 and summary.records_malformed == 1


@pytest.mark.parametrize("size", range(1, 97))
def test_every_chunk_size_gives_the_same_output(size: int) -> None:
    whole, _ = mask(SECRETS, CORPUS)
    chunked, _ = mask_chunks([SECRETS], split(CORPUS, size))
    assert chunked == whole


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 11, 64, 4096])
def test_text_chunking_and_multiline_keys(size: int) -> None:
    text = (
        b"hello alice.smith@example.com\n"
        b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAABG5vbmU=\n"
        b"-----END OPENSSH PRIVATE KEY-----\nafter\n"
    )
    small = Limits(block_bytes=4096)
    whole, _ = mask(SECRETS, text, content_type="text/plain", limits=small)
    assert b"b3Blbn" not in whole and b"[REDACTED:PRIVATE_KEY]\nafter\n" in whole
    chunked, _ = mask_chunks([SECRETS], split(text, size), content_type="text/plain", limits=small)
    assert chunked == whole


def test_key_block_straddling_internal_blocks() -> None:
    body = b"\n".join(b"A" * 64 for _ in range(60))
    key = b"-----BEGIN RSA PRIVATE KEY-----\n" + body + b"\n-----END RSA PRIVATE KEY-----\n"
    text = b"x" * 4000 + b"\n" + key + b"tail\n"
    limits = Limits(block_bytes=4096)
    whole, _ = mask(SECRETS, text, content_type="text/plain", limits=limits)
    chunked, _ = mask_chunks([SECRETS], split(text, 1000), content_type="text/plain", limits=limits)
    assert whole == chunked and b"AAAA" not in whole and whole.endswith(b"tail\n")


def test_records_straddling_internal_blocks() -> None:
    record = json.dumps({"m": EMAIL, "pad": "x" * 3000}).encode() + b"\n"
    data = record * 20
    out, _ = mask_chunks([SECRETS], split(data, 777), limits=Limits(block_bytes=4096))
    assert EMAIL.encode() not in out and out.count(b"\n") == 20


def test_oversize_record_refuses_the_object() -> None:
    limits = Limits(max_record_bytes=1024)
    data = b'{"ok": 1}\n' + json.dumps({"x": "y" * 2000}).encode() + b"\n"
    with pytest.raises(MaskLimitExceeded) as caught:
        mask_chunks([SECRETS], split(data, 100), limits=limits)
    assert caught.value.status == 400 and "1024" in caught.value.message


def test_oversize_document_refuses_the_object() -> None:
    with pytest.raises(MaskLimitExceeded):
        mask(
            SECRETS,
            b'{"x": "' + b"y" * 5000 + b'"}',
            content_type="application/json",
            limits=Limits(max_document_bytes=4096),
        )


def test_json_document_masked_with_formatting_kept() -> None:
    doc = b'{\n  "user": {"email": "alice.smith@example.com"},\n  "n": 1.50\n}\n'
    out, summary = mask(SECRETS, doc, content_type="application/json")
    assert out.startswith(b'{\n  "user": {"email": "tok_k1_') and out.endswith(
        b'"},\n  "n": 1.50\n}\n'
    )
    assert summary.content_kind == "json"


def test_jsonl_saved_as_json_is_masked_line_by_line() -> None:
    data = b'{"m": "alice.smith@example.com"}\n{"m": 2}\n'
    out, _ = mask(SECRETS, data, content_type="application/json")
    assert EMAIL.encode() not in out and out.endswith(b'{"m": 2}\n')


def test_malformed_json_falls_back_to_text_or_blocks() -> None:
    bad = b'{"m": "alice.smith@example.com"\n'
    out, _ = mask(SECRETS, bad)
    assert EMAIL.encode() not in out
    strict = profile("content: {malformed_json: block}\ndetectors: {email: redact}")
    with pytest.raises(MaskingBlocked) as caught:
        mask(strict, b'{"fine": 1}\n{"broken": \n')
    assert "content:malformed-json" in caught.value.message


def test_binary_blocks_by_default_and_passes_when_allowed() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(MaskingBlocked):
        mask(SECRETS, png, content_type="image/png", key="x.png")
    with pytest.raises(MaskingBlocked):
        mask(SECRETS, png, content_type=None, key="blob")
    lenient = profile("content: {binary: pass}\ndetectors: {email: redact}")
    assert mask(lenient, png, content_type="image/png")[0] == png


def test_content_kind_from_header_then_extension_then_sniffing() -> None:
    data = b'{"m": "alice.smith@example.com"}\n{"m": 1}\n'
    for ctype, key, kind in [
        ("application/x-ndjson", "x.bin", "jsonl"),
        ("binary/octet-stream", "x.jsonl", "jsonl"),
        (None, "x", "jsonl"),
        ("text/plain", "x.jsonl", "text"),
    ]:
        _, summary = mask(SECRETS, data, content_type=ctype, key=key)
        assert summary.content_kind == kind, (ctype, key)


def test_gzip_round_trip_and_determinism() -> None:
    plain = CORPUS * 50
    packed = gzip.compress(plain, mtime=1234)
    out1, s1 = mask_chunks([SECRETS], split(packed, 333), encoding="gzip", key="t.jsonl")
    out2, _ = mask_chunks([SECRETS], split(packed, 4096), key="t.jsonl.gz")
    assert out1 == out2 and s1.compressed
    expected, _ = mask(SECRETS, plain)
    assert gzip.decompress(out1) == expected


def test_corrupt_or_truncated_gzip_is_refused() -> None:
    packed = gzip.compress(CORPUS)
    with pytest.raises(UnreadableContent):
        mask(SECRETS, packed[: len(packed) // 2], encoding="gzip")
    with pytest.raises(UnreadableContent):
        mask(SECRETS, b"\x1f\x8bnot really gzip", encoding="gzip")


def test_same_input_same_output_across_runs_and_orders() -> None:
    a = profile("detectors: {email: tokenize}", "a")
    b = profile("detectors: {phone: redact}", "b")
    out1, _ = mask([a, b], CORPUS)
    out2, _ = mask([b, a], CORPUS)
    assert out1 == out2


def test_tokens_stable_across_objects_and_change_with_key_rotation() -> None:
    first, _ = mask(SECRETS, json.dumps({"m": EMAIL}).encode())
    second, _ = mask(SECRETS, json.dumps({"other": [EMAIL]}).encode())
    token = json.loads(first)["m"]
    assert json.loads(second)["other"] == [token]
    rotated = TokenKeys({"k1": b"k" * 32, "k2": b"j" * 32}, active="k2")
    after = profile("detectors: {email: tokenize}", keys=rotated)
    new = json.loads(mask(after, json.dumps({"m": EMAIL}).encode())[0])["m"]
    assert new.startswith("tok_k2_") and new != token
    assert rotated.tokens_for(EMAIL.casefold()) == {"k1": token, "k2": new}


def test_internal_failures_become_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from s3gate.transform import jsonl

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("detector exploded")

    monkeypatch.setattr(jsonl, "mask_json_value", boom)
    with pytest.raises(errors.InternalError):
        mask_chunks([SECRETS], [b'{"m": "alice.smith@example.com"}\n'])


def test_summary_counts_and_metadata_carry_no_values() -> None:
    _, summary = mask(example("write-default"), CORPUS)
    meta = json.dumps(summary.as_metadata()) + summary.explain() + summary.to_json()
    for value in (EMAIL, "4111", "hunter2", "AKIA", "MIIE"):
        assert value not in meta
    assert summary.detectors["email"] == 1 and summary.complete
