"""The preview an approver is shown: the quarantined bytes as the approver's
OWN read view of the target key shows them (their `@mask` profiles of the
moment applied on top of the writer's masking), the first PREVIEW_BYTES only.

An approver who may not read the key, or whose read needs an approval of its
own, or whose view refuses the content, sees no preview, only the counts: an
approval role is not a way to read more than one's own view.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from s3gate import errors
from s3gate.approvals.model import HoldRequest
from s3gate.approvals.store import HoldStore
from s3gate.identity.principal import Principal
from s3gate.masking.profiles import profiles_for
from s3gate.masking.service import MaskingService
from s3gate.policy import enforce
from s3gate.policy.cedar import Bundle
from s3gate.policy.model import RequestContext

PREVIEW_BYTES = 4096


async def preview(
    store: HoldStore,
    masking: MaskingService,
    bundle: Bundle,
    who: Principal,
    request: HoldRequest,
    context: RequestContext,
) -> tuple[str | None, str]:
    decision = enforce.authorize(bundle, who, "GetObject", request.bucket, request.key, context)
    if not decision.allowed:
        return None, "no preview: your read view does not include this key"
    if decision.obligations.approvals:
        return None, "no preview: reading this key needs an approval of its own"
    profiles = profiles_for(bundle, decision.obligations.masks)
    source: AsyncIterator[bytes] = store.open_content(
        request.bucket, request.hold_id, request.content_kid
    )
    if profiles:
        masker = masking.masker(
            profiles,
            content_type=request.metadata.get("content-type"),
            content_encoding=request.metadata.get("content-encoding"),
            key=request.key,
        )
        source = masker.transform(source)
    out = bytearray()
    try:
        async for piece in source:
            out += piece
            if len(out) > PREVIEW_BYTES:
                break
    except errors.AccessDenied:
        return None, "no preview: your read view refuses this content"
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
    view = ", ".join(decision.obligations.masks) or "raw (no read masking)"
    cut = len(out) > PREVIEW_BYTES
    text = bytes(out[:PREVIEW_BYTES]).decode("utf-8", errors="replace")
    note = f"as your read view shows it ({view})" + (
        f", first {PREVIEW_BYTES} bytes" if cut else ""
    )
    return text, note
