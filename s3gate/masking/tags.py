"""Object tags are content: the profiles inspect them like user metadata.

Tags reach the store and every reader that may call GetObjectTagging, so
under a `@mask` obligation they go through the same profiles as the body and
the metadata (`masking.metadata` hands the `x-amz-tagging` header of
PutObject, CreateMultipartUpload and CopyObject here; PutObjectTagging and
GetObjectTagging call `inspect` directly). The decision, in docs/masking.md:

- **Values** are free text, masked like the string values of a JSON object
  `{key: value}`: detectors, JSON field rules on the key (`key: password`,
  `$..cookie`) and key-held secrets all apply; `drop` removes the tag.
- **Keys** cannot be rewritten (a replacement would be another tag): a
  finding in a key — as sent or percent-decoded — refuses the write
  (`InvalidTag`), and hides the tag on read. So does a scoped rule that
  would rename one.
- `block` and `hold` refuse the request whatever tag they hit.
- A masked value is made a valid tag value: characters AWS does not allow
  in a tag (the brackets of `[REDACTED:EMAIL]`, the `*` of a mask) become
  `_`. One that comes out longer than S3's 256 characters refuses the write
  (`InvalidTag`), never stored cut.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from s3gate.masking.findings import rule_findings
from s3gate.s3 import tagging
from s3gate.s3.tagging import Tag, TagSet
from s3gate.transform.errors import MaskingHeld, TagRefused
from s3gate.transform.jsonvalue import mask_json_value
from s3gate.transform.matcher import RunContext
from s3gate.transform.plan import Plan
from s3gate.transform.summary import MaskSummary
from s3gate.transform.text import detector_hits


def mask_for_write(
    tags: TagSet, plan: Plan, summary: MaskSummary, max_tags: int = tagging.MAX_TAGS
) -> TagSet:
    """The tags to store, masked; raises if the write must be refused
    (`max_tags`: a bucket's limit for bucket tags)."""
    return inspect(tags, RunContext(plan, summary), write=True, max_tags=max_tags)


def mask_for_read(tags: TagSet, plan: Plan) -> TagSet:
    """The tags a masked reader is shown; raises on block / hold."""
    return inspect(tags, RunContext(plan, MaskSummary(profiles=plan.profile_names)), write=False)


def inspect(
    tags: TagSet, ctx: RunContext, *, write: bool, max_tags: int = tagging.MAX_TAGS
) -> TagSet:
    kept: list[Tag] = []
    for tag in tags:
        rules = rule_findings(ctx, sorted({tag.key, unquote_plus(tag.key)}))
        if rules:
            if ctx.held:
                raise MaskingHeld(ctx.held)
            if write:
                raise TagRefused(rules)
            continue  # not shown: its key is content the reader may not see
        kept.append(tag)
    out = _values(tuple(kept), ctx, write=write)
    if ctx.held:
        raise MaskingHeld(ctx.held)
    return tagging.check(out, max_tags) if write else out


def _values(tags: TagSet, ctx: RunContext, *, write: bool) -> TagSet:
    if not tags:
        return ()
    texts = {t.key: t.value for t in tags}
    doc = json.dumps(texts, ensure_ascii=False).encode("utf-8", "surrogatepass")
    hits = ctx.plan.scanner.scan(doc)
    if not hits and not ctx.plan.always_dirty:
        return tags
    masked = mask_json_value(doc, detector_hits(ctx, hits), ctx)
    if masked is None:
        return tags
    new = json.loads(masked)
    if not isinstance(new, dict):  # a rule dropped the whole object
        return ()
    if any(key not in texts for key in new):  # a key renamed by a scoped rule
        if write:
            raise TagRefused(("content:tag-key",))
        new = {k: v for k, v in new.items() if k in texts}
    # The client's order; a tag a rule dropped is gone; a rewritten value is
    # made a valid tag value.
    return tuple(_masked(t, new[t.key]) for t in tags if t.key in new)


def _masked(tag: Tag, new: object) -> Tag:
    text = _text(new)
    return tag if text == tag.value else Tag(tag.key, tagging.as_allowed(text))


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
