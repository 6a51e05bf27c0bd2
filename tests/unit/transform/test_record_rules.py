"""Record rules (docs/masking.md, "Record rules"): what each check and action
does to each kind of record, malformed ones included, and what a bundle
refuses at load time."""

from __future__ import annotations

import asyncio
import json
import pickle
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest

from s3gate.transform.engine import Masker
from s3gate.transform.errors import MaskingBlocked, MaskingHeld, NestedTooDeep
from s3gate.transform.profile import Profile, ProfileError
from s3gate.transform.recordrules import parse_record
from s3gate.transform.records import MAX_LINES
from s3gate.transform.recordschema import CompiledSchema, SchemaError
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary
from tests.tracegen import generate
from tests.unit.transform.helpers import mask, mask_chunks, profile, split

CANARY = "CANARY-7f3a9c"

# One profile with every kind of check; each case below breaks one of them.
REJECTING = """
detectors:
  email: tokenize
  private_key: redact
fields:
  - {id: amounts, path: $.amount, operator: tokenize}
records:
  - id: shape
    action: reject_record
    schema:
      type: object
      required: [trace_id]
      properties:
        trace_id: {type: string}
        amount: {type: integer}
        big: {type: integer, maximum: 1.0e+300}
  - {id: has-step, action: reject_record, required: ['$.step']}
  - {id: no-debug, action: reject_record, forbidden: ['$..debug', '$.tools[*].dump']}
  - {id: no-cards, action: reject_record, detectors: [credit_card]}
  - {id: no-emails, action: reject_record, detectors: [email]}
  - {id: keys, action: hold, detectors: [private_key]}
"""
# The same with a block rule.
RULES = (
    REJECTING
    + """  - {id: no-raw, action: block, forbidden: ['$..raw_prompt']}
"""
)
# A private key as it appears inside a JSON string (escaped newlines).
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\\n"
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\\n"
    "-----END RSA PRIVATE KEY-----"
)
GOOD = '{"trace_id":"t","step":1}'


@pytest.fixture(scope="module")
def rules() -> Profile:
    return profile(RULES, name="rr")


@pytest.fixture(scope="module")
def rejecting() -> Profile:
    return profile(REJECTING, name="rr")


def rejected_by(summary: MaskSummary) -> dict[str, int]:
    return {k.removeprefix("rr:"): v for k, v in summary.rejected.items()}


# (case, record, rules that reject it; None: the record is kept)
REJECT_CASES: list[tuple[str, str, set[str] | None]] = [
    ("a good record", GOOD, None),
    ("schema: missing trace_id", '{"step":1}', {"shape"}),
    ("schema: wrong type", '{"trace_id":7,"step":1}', {"shape"}),
    ("schema: a string is not an object", '"just a string"', {"shape", "has-step"}),
    ("schema: an array is not an object", "[1,2]", {"shape", "has-step"}),
    ("required: missing step", '{"trace_id":"t"}', {"has-step"}),
    ("required: null counts as present", '{"trace_id":"t","step":null}', None),
    ("forbidden: at any depth", '{"trace_id":"t","step":1,"a":{"b":[{"debug":0}]}}', {"no-debug"}),
    (
        "forbidden: in every element",
        '{"trace_id":"t","step":1,"tools":[{},{"dump":1}]}',
        {"no-debug"},
    ),
    ("forbidden: other element name", '{"trace_id":"t","step":1,"tools":[{"dumps":1}]}', None),
    (
        "detector: in a string",
        '{"trace_id":"t","step":1,"n":"card 4111 1111 1111 1111"}',
        {"no-cards"},
    ),
    ("detector: a number", '{"trace_id":"t","step":1,"n":4111111111111111}', {"no-cards"}),
    (
        "detector: a negative number",
        '{"trace_id":"t","step":1,"n":-4111111111111111}',
        {"no-cards"},
    ),
    ("detector: in a key", '{"trace_id":"t","step":1,"bob@example.com":1}', {"no-emails"}),
    (
        "detector: escaped in JSON",
        '{"trace_id":"t","step":1,"e":"bob\\u0040example.com"}',
        {"no-emails"},
    ),
    ("detector: Luhn fails, nothing found", '{"trace_id":"t","step":1,"n":4111111111111112}', None),
    ("two rules at once", '{"debug":1}', {"shape", "has-step", "no-debug"}),
    # Malformed records: each has a defined outcome.
    ("not JSON", "this is not json", {"shape", "has-step", "no-debug"}),
    (
        "not JSON with a card in its text",
        "oops 4111111111111111",
        {"shape", "has-step", "no-debug", "no-cards"},
    ),
    ("truncated JSON", '{"trace_id":"t","step":', {"shape", "has-step", "no-debug"}),
    (
        "an integer over Python's 4300 digits is not JSON",
        '{"trace_id":"t","step":' + "9" * 5000 + "}",
        {"shape", "has-step", "no-debug"},
    ),
    ("a huge integer within the limit", '{"trace_id":"t","step":' + "9" * 4000 + "}", None),
    (
        "a huge integer over a schema maximum",
        '{"trace_id":"t","step":1,"big":' + "9" * 400 + "}",
        {"shape"},
    ),
    (
        "1e400 reads as infinity, not an integer",
        '{"trace_id":"t","step":1,"amount":1e400}',
        {"shape"},
    ),
    ("NaN is read as the masker reads it", '{"trace_id":"t","step":NaN}', None),
    (
        "a duplicate key is no JSON record (parsers disagree on which value wins)",
        '{"trace_id":"t","step":"x","step":1}',
        {"shape", "has-step", "no-debug"},
    ),
    (
        "a duplicate key deep inside",
        '{"trace_id":"t","step":1,"a":[{"b":1,"b":2}]}',
        {"shape", "has-step", "no-debug"},
    ),
    (
        "an escaped key name is the key it spells",
        '{"trace_id":"t","step":1,"de\\u0062ug":1}',
        {"no-debug"},
    ),
    (
        "deep but parseable nesting",
        '{"trace_id":"t","step":1,"x":' + "[" * 400 + '{"debug":1}' + "]" * 400 + "}",
        {"no-debug"},
    ),
]


@pytest.mark.parametrize(
    ("case", "record", "expected"), REJECT_CASES, ids=[c[0] for c in REJECT_CASES]
)
def test_each_record_is_kept_or_rejected_by_the_rules_it_breaks(
    rejecting: Profile, case: str, record: str, expected: set[str] | None
) -> None:
    data = f"{GOOD}\n{record}\n{GOOD}\n".encode()
    out, summary = mask(rejecting, data)
    lines = out.decode().splitlines()
    if expected is None:
        assert len(lines) == 3
        assert summary.records_rejected == 0 and not summary.rejected
    else:
        assert len(lines) == 2 and all(json.loads(line)["trace_id"] == "t" for line in lines)
        assert summary.records_rejected == 1
        assert rejected_by(summary) == dict.fromkeys(expected, 1)
        assert summary.rejected_lines == {f"rr:{r}": [2] for r in expected}


# (case, body, outcome, rule ids named)
OBJECT_CASES: list[tuple[str, str, str, tuple[str, ...]]] = [
    (
        "block: a forbidden field refuses the object",
        f'{GOOD}\n{{"raw_prompt":"{CANARY}"}}\n',
        "blocked",
        ("rr:no-raw",),
    ),
    (
        "block: a malformed record breaks the forbidden rule too",
        f"{GOOD}\nnot json {CANARY}\n",
        "blocked",
        ("rr:no-raw",),
    ),
    (
        "hold: a detector holds the object",
        f'{GOOD}\n{{"trace_id":"t","step":1,"k":"{PEM}"}}\n',
        "held",
        ("rr:keys",),
    ),
    (
        "block wins over an earlier hold",
        f'{{"trace_id":"t","step":1,"k":"{PEM}"}}\n{{"raw_prompt":1}}\n',
        "blocked",
        ("rr:no-raw",),
    ),
    (
        "block wins over a reject in the same record",
        '{"raw_prompt":1}\n',
        "blocked",
        ("rr:no-raw",),
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "outcome", "ids"), OBJECT_CASES, ids=[c[0] for c in OBJECT_CASES]
)
def test_block_and_hold_rules_refuse_or_hold_the_object(
    rules: Profile, case: str, body: str, outcome: str, ids: tuple[str, ...]
) -> None:
    error = MaskingBlocked if outcome == "blocked" else MaskingHeld
    with pytest.raises(error) as caught:
        mask(rules, body.encode())
    assert caught.value.rule_ids == ids
    assert CANARY not in str(caught.value)


def _stream(masker: Masker, data: bytes) -> tuple[bytes, BaseException | None]:
    """What the engine streamed out before it raised (a hold raises last)."""
    pieces: list[bytes] = []

    async def source() -> AsyncIterator[bytes]:
        yield data

    async def run() -> BaseException | None:
        try:
            async for piece in masker.transform(source()):
                pieces.append(piece)
        except MaskingHeld as exc:
            return exc
        return None

    error = asyncio.run(run())
    return b"".join(pieces), error


def test_a_held_object_keeps_its_records_masked_and_loses_the_rejected_ones(rules: Profile) -> None:
    data = (
        f'{{"trace_id":"t","step":1,"k":"{PEM}"}}\n{{"debug":"{CANARY}","k":"{PEM}"}}\n{GOOD}\n'
    ).encode()
    masker = Masker(
        [rules],
        content_type="application/x-ndjson",
        content_encoding=None,
        key="t.jsonl",
        limits=Limits(),
    )
    out, error = _stream(masker, data)
    assert isinstance(error, MaskingHeld) and error.rule_ids == ("rr:keys",)
    # The second record breaks a hold rule and reject rules: it is left out
    # (a reject is never undone by a hold), the others wait in quarantine.
    assert CANARY.encode() not in out and b"MIIEow" not in out  # the key is redacted
    assert out.count(b"\n") == 2 and b"[REDACTED:PRIVATE_KEY]" in out
    assert rejected_by(masker.summary) == {"shape": 1, "has-step": 1, "no-debug": 1}
    assert masker.summary.held == ("rr:keys",)


def test_json_nested_deeper_than_the_parser_refuses_the_object(rules: Profile) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(NestedTooDeep):
        mask(rules, f"{GOOD}\n{deep}\n".encode())


def test_rules_judge_the_record_before_masking(rules: Profile) -> None:
    # `amount` is tokenized by a field rule (a number becomes a string) and
    # the email is tokenized: the schema and the detector rule still see
    # the writer's values.
    data = (
        b'{"trace_id":"t","step":1,"amount":12}\n{"trace_id":"t","step":1,"bob@example.com":"x"}\n'
    )
    out, summary = mask(rules, data)
    assert out.count(b"\n") == 1 and b'"amount":"tok_' in out
    assert rejected_by(summary) == {"no-emails": 1}
    # A rejected record is not masked: its findings are not counted.
    assert summary.detectors.get("email", 0) == 0


def test_a_rejected_canary_never_reaches_the_output(rules: Profile) -> None:
    records = [GOOD if i % 7 else f'{{"step":{i},"note":"{CANARY}-{i}"}}' for i in range(500)]
    out, summary = mask(rules, ("\n".join(records) + "\n").encode())
    assert CANARY.encode() not in out
    assert summary.records_rejected == len([i for i in range(500) if i % 7 == 0])


def test_output_and_line_numbers_do_not_depend_on_chunking(rules: Profile) -> None:
    records = []
    for i in range(3000):
        records.append(GOOD if i % 11 else f'{{"trace_id":"t","step":{i},"debug":"x"}}')
    data = ("\n".join(records)).encode()  # no final newline: the last line counts too
    limits = Limits(block_bytes=4096)
    expected_lines = [i + 1 for i in range(3000) if i % 11 == 0]
    outputs = set()
    for size in (1, 97, 4096, len(data)):
        chunks = split(data, size) if size > 1 else [data[:5000], data[5000:]]
        out, summary = mask_chunks([rules], chunks, limits=limits)
        outputs.add(out)
        assert summary.rejected_lines == {"rr:no-debug": expected_lines}
        assert summary.rejected["rr:no-debug"] == len(expected_lines)
    assert len(outputs) == 1


def test_line_numbers_are_capped_but_counts_are_not(rules: Profile) -> None:
    data = b'{"debug":1,"trace_id":"t","step":1}\n' * (MAX_LINES + 5)
    out, summary = mask(rules, data)
    assert out == b""
    assert summary.rejected["rr:no-debug"] == MAX_LINES + 5
    assert summary.rejected_lines["rr:no-debug"] == list(range(1, MAX_LINES + 1))
    assert "and 5 more" in summary.explain()


def test_explain_and_metadata_name_rules_and_lines_never_content(rules: Profile) -> None:
    data = f'{GOOD}\n{{"step":1,"secret":"{CANARY}"}}\n\n{{"trace_id":"t"}}\n'.encode()
    _, summary = mask(rules, data)
    text = summary.explain()
    assert "records rejected: 2" in text
    assert "rr:shape" in text and "lines 2" in text
    assert "rr:has-step" in text and "lines 4" in text
    assert CANARY not in text and CANARY not in json.dumps(summary.as_dict())
    meta = summary.as_metadata()
    assert meta["s3gate-mask-rejected"] == "rr:has-step=1,rr:shape=1"
    assert meta["s3gate-mask-rejected-records"] == "2"
    assert summary.as_dict()["rejected_lines"] == {"rr:has-step": [4], "rr:shape": [2]}


def test_summaries_without_rejections_keep_their_old_shape(rules: Profile) -> None:
    _, summary = mask(rules, f"{GOOD}\n".encode())
    assert "rejected" not in summary.as_dict()
    assert "s3gate-mask-rejected" not in summary.as_metadata()


# (case, content type, body, outcome)
DOCUMENT_CASES = [
    ("a good document passes", "application/json", GOOD, "masked"),
    ("a rejected document refuses the object", "application/json", '{"trace_id":"t"}', "blocked"),
    ("a held document", "application/json", f'{{"trace_id":"t","step":1,"k":"{PEM}"}}', "held"),
    (
        "JSONL saved as .json is judged line by line",
        "application/json",
        f'{GOOD}\n{{"trace_id":"t"}}\n',
        "masked",
    ),
]


@pytest.mark.parametrize(
    ("case", "content_type", "body", "outcome"), DOCUMENT_CASES, ids=[c[0] for c in DOCUMENT_CASES]
)
def test_a_json_document_is_one_record(
    rules: Profile, case: str, content_type: str, body: str, outcome: str
) -> None:
    try:
        out, _ = mask(rules, body.encode(), content_type=content_type, key="doc.json")
        got = "masked"
    except MaskingBlocked as exc:
        got = "blocked"
        assert exc.rule_ids == ("rr:has-step",)
    except MaskingHeld:
        got = "held"
    assert got == outcome
    if got == "masked":
        assert all(json.loads(line)["step"] == 1 for line in out.decode().splitlines())


def test_text_content_is_not_judged(rules: Profile) -> None:
    out, summary = mask(
        rules, b"a plain log line, not a record\n", content_type="text/plain", key="x.log"
    )
    assert out == b"a plain log line, not a record\n" and summary.records_rejected == 0


def test_rules_of_every_profile_apply(rules: Profile) -> None:
    other = profile(
        "records: [{id: no-x, action: reject_record, forbidden: ['$.x']}]", name="other"
    )
    out, summary = mask([rules, other], f'{GOOD}\n{{"trace_id":"t","step":1,"x":1}}\n'.encode())
    assert out == f"{GOOD}\n".encode()
    assert dict(summary.rejected) == {"other:no-x": 1}


# (case, records: YAML, reason in the error)
INVALID = [
    (
        "two checks",
        "[{id: a, action: block, required: ['$.a'], forbidden: ['$.b']}]",
        "exactly one of",
    ),
    ("no check", "[{id: a, action: block}]", "exactly one of"),
    ("empty list", "[{id: a, action: block, required: []}]", "must not be empty"),
    ("unknown action", "[{id: a, action: drop, required: ['$.a']}]", "action"),
    ("bad path", "[{id: a, action: block, forbidden: ['a.b']}]", "must start with '$'"),
    ("unknown detector", "[{id: a, action: block, detectors: [nope]}]", "unknown detector 'nope'"),
    (
        "duplicate id",
        "[{id: a, action: block, required: ['$.a']}, {id: a, action: hold, required: ['$.b']}]",
        "duplicate rule id",
    ),
    ("unknown key", "[{id: a, action: block, required: ['$.a'], when: x}]", "when"),
    (
        "schema does not compile",
        "[{id: a, action: block, schema: {type: nope}}]",
        "does not compile",
    ),
    (
        "schema regex does not compile",
        "[{id: a, action: block, schema: {pattern: '('}}]",
        "does not compile",
    ),
    (
        "schema refers to itself forever",
        "[{id: a, action: block, schema: {$ref: '#'}}]",
        "refers to itself",
    ),
    (
        "remote $ref",
        "[{id: a, action: block, schema: {$ref: 'https://example.com/s.json'}}]",
        "remote references are refused",
    ),
    (
        "file $ref",
        "[{id: a, action: block, schema: {properties: {x: {$ref: 'file:///etc/passwd'}}}}]",
        "remote references are refused",
    ),
    (
        "relative $ref",
        "[{id: a, action: block, schema: {$ref: 'other.json#/x'}}]",
        "remote references are refused",
    ),
    (
        "$id moves the base elsewhere",
        "[{id: a, action: block, schema: {$id: 'http://example.com/r', properties: "
        "{x: {$id: 'http://example.com/o', $ref: '#/definitions/y'}}}}]",
        "schema",
    ),
    (
        "missing local definition",
        "[{id: a, action: block, schema: {$ref: '#/definitions/none'}}]",
        "does not compile",
    ),
    ("YAML date in a schema", "[{id: a, action: block, schema: {enum: [2024-01-01]}}]", "not JSON"),
    ("a schema that is a list", "[{id: a, action: block, schema: [1]}]", "a mapping"),
]


@pytest.mark.parametrize(("case", "records", "reason"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_record_rules_reject_the_bundle(
    monkeypatch: pytest.MonkeyPatch, case: str, records: str, reason: str
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a schema reference reached for the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(ProfileError) as caught:
        profile(f"records: {records}")
    assert reason in str(caught.value)
    assert "/virtual/p.yaml" in str(caught.value) and "records" in str(caught.value)


def test_a_record_rule_id_may_not_reuse_a_field_rule_id() -> None:
    text = (
        "fields: [{id: a, path: $.a, operator: drop}]\n"
        "records: [{id: a, action: block, required: ['$.a']}]"
    )
    with pytest.raises(ProfileError, match="duplicate rule id"):
        profile(text)


def test_a_test_case_may_only_count_record_rules_that_exist() -> None:
    text = (
        "records: [{id: a, action: block, required: ['$.a']}]\n"
        "tests: [{name: t, input: '{}', rejected: {b: 1}}]"
    )
    with pytest.raises(ProfileError, match="'b' is not a record rule"):
        profile(text)


def test_schemas_compile_once_and_survive_a_process_boundary() -> None:
    schema = CompiledSchema.of({"type": "object", "required": ["a"]})
    again = pickle.loads(pickle.dumps(schema))  # noqa: S301 - our own bytes
    assert again == schema and again.accepts({"a": 1}) and not again.accepts({})
    # The same schema in another bundle reuses the compiled validator.
    assert CompiledSchema.of({"required": ["a"], "type": "object"})._validate is schema._validate
    rules = profile(RULES, name="rr")
    copied = pickle.loads(pickle.dumps(rules.records))  # noqa: S301 - our own bytes
    assert [r.id for r in copied] == [r.id for r in rules.records]
    record = json.loads('{"trace_id":"t","n":"4111 1111 1111 1111"}')
    assert [r.violated_by(record) for r in copied] == [r.violated_by(record) for r in rules.records]


def test_validation_never_changes_the_record() -> None:
    schema = CompiledSchema.of({"properties": {"a": {"default": 5}}})
    record: dict[str, Any] = {}
    assert schema.accepts(record) and record == {}


def test_schema_values_must_be_json() -> None:
    with pytest.raises(SchemaError):
        CompiledSchema.of({1: "x"})


# Paths whose key names are not plain printable ASCII.
NON_ASCII_PATHS = """records:
  - {id: accent, action: block, forbidden: ['$.stép']}
  - {id: slash, action: block, required: ['$["a/b"]']}
  - {id: quote, action: block, forbidden: ['$..[''qu"ote'']']}
"""


@pytest.mark.parametrize(
    "raw",
    [
        '{"trace_id":"t","step":1}',
        '{"trace_id":"t","note":"debug"}',  # the name as a value, not a key
        '{"trace_id":"t","de\\u0062ug":1}',  # spelt with an escape
        '{"trace_id":"t","x":"a\\\\b","debug":1}',
        '{"trace_id":"t","tools":[{"dump":1}]}',
        '{"trace_id":"t","tools":{"0":{"dump":1}}}',  # an object is not an array
        '{"trace_id":"t","stép":1,"step":2}',
        '{"trace_id":"t","x":{"step":1}}',  # step, but not at the top
        '{"trace_id":"t","st\\u00e9p":1}',  # a non-ASCII key name, escaped
        '{"trace_id":"t","n":"a\\nb","stép":1}',
        '{"trace_id":"t","n":"a\\nb","debug":1}',  # an escape that hides nothing
        '{"trace_id":"t","n":"a\\nb","d\\u0065bug":1}',
        '{"trace_id":"t","a\\/b":1}',
        '{"trace_id":"t","qu\\"ote":1}',
    ],
)
def test_the_byte_shortcut_never_changes_a_verdict(rejecting: Profile, raw: str) -> None:
    data = raw.encode()
    value = parse_record(data)
    rules = [*rejecting.records, *profile(NON_ASCII_PATHS).records]
    for rule in rules:
        assert rule.violated_by(value, data) == rule.violated_by(value), rule.id


@pytest.mark.parametrize(
    ("record", "selected"),
    [
        ('{"a":[{"b":1},{"b":null}]}', True),
        ('{"a":[{"b":1}]}', False),  # no element 1
        ('{"a":{"1":{"b":1}}}', False),  # a member "1" is not element 1
        ('{"a":[1,{"c":1}]}', False),
        ('{"a":"xy"}', False),  # a string has no elements
        ("[]", False),
    ],
)
def test_plain_paths_select_by_lookup(record: str, selected: bool) -> None:
    rule = profile("records: [{id: r, action: block, required: ['$.a[1].b']}]").records[0]
    value = parse_record(record.encode())
    assert rule.violated_by(value, record.encode()) is not selected


DETECTORS = (
    "credit_card",
    "email",
    "phone",
    "us_ssn",
    "iban",
    "aws_access_key_id",
    "secret_assignment",
    "bearer_token",
)


@pytest.mark.parametrize("detector", DETECTORS)
def test_the_prefilter_shortcut_never_changes_a_detector_verdict(detector: str) -> None:
    """Over a seeded corpus dense with PII and secrets (cards as numbers,
    key-held secrets, phone numbers under phone keys), a detectors rule
    says the same with the prefilter shortcut (raw bytes given) as with
    the full walk alone — and the corpus does exercise both answers."""
    rule = profile(f"records: [{{id: r, action: block, detectors: [{detector}]}}]").records[0]
    data, _ = generate(400, seed=5, pii_rate=0.6)
    verdicts = []
    for line in data.splitlines():
        value = parse_record(line)
        fast = rule.violated_by(value, line)
        assert fast == rule.violated_by(value), line[:80]
        verdicts.append(fast)
    assert any(verdicts) and not all(verdicts)
