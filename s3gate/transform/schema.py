"""The YAML shape of a masking profile, checked by pydantic (unknown keys are
errors, so a typo never silently disables a rule), and a YAML loader that
refuses duplicate keys for the same reason.

    profile: write-default
    description: …
    content: {malformed_json: text, binary: block}
    detectors:
      email: tokenize                       # a built-in, with its operator
      phone: {operator: mask, keep_last: 4}
      customer_id:                          # a custom detector
        pattern: '\\bCUST-\\d{8}\\b'
        operator: tokenize
        examples: {positive: [CUST-00012345], negative: [CUST-12]}
    fields:
      - {id: passwords, path: $..password, operator: drop}
    records:
      - {id: has-trace-id, action: reject_record, required: [$.trace_id]}
    tests:
      - {name: …, input: …, absent: […]}
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from s3gate.transform.operators import Kind

ID_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContextModel(_Model):
    keywords: tuple[str, ...] = Field(min_length=1)
    within: int = Field(default=40, ge=1, le=1000)


class ExamplesModel(_Model):
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


class DetectorModel(_Model):
    operator: Kind = "redact"
    keep_last: int = Field(default=4, ge=0, le=64)
    label: str | None = Field(default=None, pattern=r"^[A-Z0-9_]{1,40}$")
    # everywhere: every string (and text line); fields: only inside field
    # rules that name this detector.
    scope: Literal["everywhere", "fields"] = "everywhere"
    # Custom detectors: exactly one of pattern / terms.
    pattern: str | None = None
    terms: tuple[str, ...] | None = None
    validator: str | None = None
    context: ContextModel | None = None
    ignore_case: bool = False
    description: str = ""
    examples: ExamplesModel | None = None

    @field_validator("operator")
    @classmethod
    def _not_keep(cls, value: str) -> str:
        if value == "keep":
            raise ValueError("'keep' is for field rules; a detector must change what it finds")
        return value

    @field_validator("terms")
    @classmethod
    def _terms(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (not value or any(not t.strip() for t in value)):
            raise ValueError("terms must be a non-empty list of non-empty strings")
        return value

    @property
    def custom(self) -> bool:
        return self.pattern is not None or self.terms is not None


class FieldModel(_Model):
    id: str = Field(pattern=RULE_ID_PATTERN)
    path: str | None = None
    key: str | None = None
    operator: Kind | None = None
    keep_last: int = Field(default=4, ge=0, le=64)
    label: str | None = Field(default=None, pattern=r"^[A-Z0-9_]{1,40}$")
    # Detectors applied only inside this field (besides those everywhere).
    detectors: tuple[str, ...] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _shape(self) -> FieldModel:
        if (self.path is None) == (self.key is None):
            raise ValueError("give exactly one of path, key")
        if self.detectors is None and self.operator is None:
            raise ValueError("give an operator (whole value) or detectors (inside the value)")
        if self.detectors is not None and not self.detectors:
            raise ValueError("detectors must not be empty")
        if self.detectors is not None and self.operator == "keep":
            raise ValueError("'keep' cannot be combined with detectors")
        return self


class RecordRuleModel(_Model):
    """A record rule (docs/masking.md, "Record rules"): one check and its action."""

    id: str = Field(pattern=RULE_ID_PATTERN)
    action: Literal["reject_record", "block", "hold"]
    # Exactly one check: a JSON Schema the record must satisfy, paths that
    # must each select a value, paths that must select none, or detectors
    # that must find nothing in the record.
    json_schema: Any = Field(default=None, alias="schema")
    required: tuple[str, ...] | None = None
    forbidden: tuple[str, ...] | None = None
    detectors: tuple[str, ...] | None = None
    description: str = ""

    @model_validator(mode="after")
    def _one_check(self) -> RecordRuleModel:
        given = [
            name
            for name, value in (
                ("schema", self.json_schema),
                ("required", self.required),
                ("forbidden", self.forbidden),
                ("detectors", self.detectors),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of schema, required, forbidden, detectors")
        for name in ("required", "forbidden", "detectors"):
            if getattr(self, name) == ():
                raise ValueError(f"{name} must not be empty")
        return self


class TestModel(_Model):
    name: str = Field(min_length=1)
    input: str
    content_type: str = "application/x-ndjson"
    # Exact expected output, or substrings that must be absent / present.
    expect: str | None = None
    absent: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    outcome: Literal["masked", "blocked", "held"] = "masked"
    # Records each record rule rejected ({rule id: count}, exact when given).
    rejected: dict[str, int] | None = None


class ContentModel(_Model):
    # JSON that does not parse: mask it with the text detectors, or refuse it.
    malformed_json: Literal["text", "block"] = "text"
    # Binary or unrecognised content: refuse it, or pass it through unmasked.
    binary: Literal["block", "pass"] = "block"


class ProfileModel(_Model):
    profile: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    content: ContentModel = ContentModel()
    detectors: dict[str, DetectorModel] = Field(default_factory=dict)
    fields: tuple[FieldModel, ...] = ()
    records: tuple[RecordRuleModel, ...] = ()
    tests: tuple[TestModel, ...] = ()

    @field_validator("detectors", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `email: tokenize` is `email: {operator: tokenize}`.
        if isinstance(value, dict):
            return {k: {"operator": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
