"""Metadata and content headers are content: the profiles inspect them.

What a client stores with an object besides its bytes — user metadata
(`x-amz-meta-*`) and the content headers S3 keeps (`s3.model.
STORED_HEADERS`) — reaches the store and every reader. Under a `@mask`
obligation they go through the same profiles as the body, on the way in
(PutObject, CopyObject, CreateMultipartUpload) and on the way out (HEAD and
GET of a view). The decision per header is in docs/masking.md:

- **User metadata values** are free text: masked like the string values of a
  JSON object `{name: value}` — detectors, JSON field rules (`key: cookie`,
  `$..password`) and key-held secrets (`x-amz-meta-api-key`) all apply;
  `drop` removes the entry. The value keeps its form (headertext).
- **User metadata names** cannot be rewritten (a replacement is not a header
  name): a finding in a name refuses the write (and hides the entry on read).
- **Content headers** (Content-Type, -Disposition, -Language, -Encoding,
  Cache-Control, Expires, the website redirect, storage class, tagging) have
  a syntax a replacement would break or change the meaning of (a filename, a
  URL, a media type parameter): a finding refuses the write with
  InvalidArgument naming the header; on read the header is left out.
- `block` and `hold` refuse whatever header they hit, as in a body.
- **Object keys** (check_key) cannot be rewritten either, and reach every
  listing: a finding in the key refuses the masked write.

The gateway's own stamp (`x-amz-meta-s3gate-*`) is never taken from a client
(`s3.headers.stored_metadata` drops it on every write) and is added after the
inspection; on read it is inspected like the rest (an object written around
the gateway may carry anything under that name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import unquote_plus

from s3gate import errors
from s3gate.masking import headertext, tags
from s3gate.masking.findings import UNINSPECTABLE, rule_findings
from s3gate.s3 import tagging
from s3gate.s3.headers import GATEWAY_META_PREFIX, MAX_USER_METADATA_BYTES
from s3gate.s3.model import USER_META_PREFIX
from s3gate.transform.errors import HeaderRefused, KeyRefused, MaskingHeld
from s3gate.transform.jsonvalue import mask_json_value
from s3gate.transform.matcher import RunContext
from s3gate.transform.plan import Plan
from s3gate.transform.summary import MaskSummary
from s3gate.transform.text import detector_hits

RESERVED_PREFIX = GATEWAY_META_PREFIX
NAME_REFUSAL = "x-amz-meta-* (a metadata name)"


def mask_for_write(metadata: Mapping[str, str], plan: Plan, summary: MaskSummary) -> dict[str, str]:
    """The metadata to store, masked; raises if it must be refused."""
    return _Inspection(plan, summary, write=True).run(metadata)


def mask_for_read(metadata: Mapping[str, str], plan: Plan) -> dict[str, str]:
    """The metadata a masked reader is shown; raises on block / hold."""
    return _Inspection(plan, MaskSummary(profiles=plan.profile_names), write=False).run(metadata)


def check_key(key: str, plan: Plan, summary: MaskSummary) -> None:
    """Refuse a masked write whose object key holds what the profiles find
    (KeyRefused; `hold` as for a header). A key is read as sent and
    percent-decoded, the two ways a reader of a listing may see it."""
    ctx = RunContext(plan, summary)
    rules = rule_findings(ctx, sorted({key, unquote_plus(key)}))
    if ctx.held:
        raise MaskingHeld(ctx.held)
    if rules:
        raise KeyRefused(rules)


class _Inspection:
    def __init__(self, plan: Plan, summary: MaskSummary, *, write: bool) -> None:
        self.plan = plan
        self.ctx = RunContext(plan, summary)
        self.write = write

    def run(self, metadata: Mapping[str, str]) -> dict[str, str]:
        user = {k: v for k, v in metadata.items() if k.startswith(USER_META_PREFIX)}
        out: dict[str, str] = {}
        for name, value in metadata.items():
            if name in user:
                continue
            if name == tagging.HEADER:  # tags: masked like user metadata (masking.tags)
                kept = self._tagging(value)
                if kept:
                    out[name] = kept
                continue
            if self._header_ok(name, value):
                out[name] = value
        out.update(self._user(user))
        if self.ctx.held:
            raise MaskingHeld(self.ctx.held)
        if self.write and _user_bytes(out) > MAX_USER_METADATA_BYTES:
            raise errors.MetadataTooLarge()
        return out

    def _tagging(self, value: str) -> str:
        """The `x-amz-tagging` value to keep (empty: no tag is left). A
        value that does not parse is refused on write, not shown on read."""
        try:
            parsed = tagging.parse_header(value)
        except errors.S3Error:
            if self.write:
                raise
            return ""
        return tagging.header_value(tags.inspect(parsed, self.ctx, write=self.write))

    # -- content headers: inspected, never rewritten ---------------------------------

    def _header_ok(self, name: str, value: str) -> bool:
        rules = self._findings(self._readings(name, value))
        if not rules:
            return True
        if self.ctx.held:  # `hold` refuses as for a body, whatever the header
            raise MaskingHeld(self.ctx.held)
        if self.write:
            raise HeaderRefused(name, rules)
        return False

    def _readings(self, name: str, value: str) -> list[str]:
        """The text a reader or a parser could take from the value: as sent,
        percent-decoded (tagging, `filename*=`), without quoted-string
        escapes, and RFC 2047-decoded."""
        try:
            decoded = headertext.decode(value).text
        except headertext.Undecodable as exc:
            if self.write:
                raise HeaderRefused(name, (), reason=str(exc)) from exc
            return [value, UNINSPECTABLE]
        readings = {value, decoded, unquote_plus(value), value.replace("\\", "")}
        return sorted(readings)

    def _findings(self, texts: list[str]) -> tuple[str, ...]:
        return rule_findings(self.ctx, texts)

    # -- user metadata: masked as a JSON object ----------------------------------------

    def _user(self, user: Mapping[str, str]) -> dict[str, str]:
        if not user:
            return {}
        forms: dict[str, headertext.Form] = {}
        texts: dict[str, str] = {}
        for name, value in user.items():
            short = name[len(USER_META_PREFIX) :]
            rules = self._findings([short])
            if rules:
                if self.ctx.held:
                    raise MaskingHeld(self.ctx.held)
                if self.write:
                    raise HeaderRefused(NAME_REFUSAL, rules)
                continue  # not shown: its name is content the reader may not see
            try:
                read = headertext.decode(value)
            except headertext.Undecodable as exc:
                if self.write:
                    raise HeaderRefused(name, (), reason=str(exc)) from exc
                continue  # not shown: it cannot be inspected
            forms[short], texts[short] = read.form, read.text
        doc = json.dumps(texts, ensure_ascii=False).encode("utf-8", "surrogatepass")
        hits = self.plan.scanner.scan(doc)
        if not hits and not self.plan.always_dirty:
            return {f"{USER_META_PREFIX}{k}": user[f"{USER_META_PREFIX}{k}"] for k in texts}
        masked = mask_json_value(doc, detector_hits(self.ctx, hits), self.ctx)
        if masked is None:
            return {f"{USER_META_PREFIX}{k}": user[f"{USER_META_PREFIX}{k}"] for k in texts}
        new = json.loads(masked)
        if not isinstance(new, dict):  # a rule dropped the whole object
            return {}
        out: dict[str, str] = {}
        for short, text in new.items():
            full = USER_META_PREFIX + short
            if short not in texts:  # a name rewritten by a scoped rule: it cannot be
                if self.write:
                    raise HeaderRefused(NAME_REFUSAL, ("content:metadata-name",))
                continue
            if text == texts[short]:
                out[full] = user[full]  # byte-identical
                continue
            value = headertext.encode(str(text), forms[short])
            if not headertext.safe(value):  # cannot happen: encode escapes
                raise errors.InternalError("masked metadata is not a valid header value")
            out[full] = value
        return out


def _user_bytes(metadata: Mapping[str, str]) -> int:
    return sum(
        len(k) - len(USER_META_PREFIX) + len(v.encode("latin-1", "replace"))
        for k, v in metadata.items()
        if k.startswith(USER_META_PREFIX) and not k.startswith(RESERVED_PREFIX)
    )
