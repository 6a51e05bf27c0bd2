"""What a caller may see of a listing, and where the next page starts.

Listings are decided twice: the listing itself (its prefix) by the gateway,
then every key and common prefix of the page here, on the request's bundle.
Hidden entries are dropped. The resume position is the last entry the store
returned, visible or not, so paging always advances; it is sealed unless the
caller may see it (see `s3.tokens`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from s3gate.handlers.call import Call
from s3gate.policy import model
from s3gate.upstream.base import ListPage, UploadsPage


@dataclass(frozen=True)
class Visible:
    page: ListPage
    # The page's resume position as the client must see it: a plain key when
    # visible, otherwise a sealed token. None when not truncated.
    next_marker: str | None
    next_token: str | None  # always sealed (ListObjectsV2)


def _decide(call: Call, keys: list[str], prefixes: list[str]) -> tuple[list[bool], list[bool]]:
    requests = model.listing_requests(
        call.principal, call.op.name, call.bucket, keys, prefixes, call.policy_context
    )
    allowed = call.allowed(requests)
    return allowed[: len(keys)], allowed[len(keys) :]


def listing(call: Call, page: ListPage) -> Visible:
    keys = [o.key for o in page.contents]
    show_keys, show_prefixes = _decide(call, keys, list(page.common_prefixes))
    visible = replace(
        page,
        contents=[o for o, ok in zip(page.contents, show_keys, strict=True) if ok],
        common_prefixes=[
            p for p, ok in zip(page.common_prefixes, show_prefixes, strict=True) if ok
        ],
    )
    after = page.next_after if page.is_truncated else None
    if after is None:
        return Visible(visible, None, None)
    shown = {o.key for o in visible.contents} | set(visible.common_prefixes)
    sealed = call.list_tokens.seal(call.bucket, after)
    return Visible(visible, after if after in shown else sealed, sealed)


def uploads(call: Call, page: UploadsPage) -> tuple[UploadsPage, str | None]:
    keys = [u.key for u in page.uploads]
    show_keys, show_prefixes = _decide(call, keys, list(page.common_prefixes))
    visible = replace(
        page,
        uploads=[u for u, ok in zip(page.uploads, show_keys, strict=True) if ok],
        common_prefixes=[
            p for p, ok in zip(page.common_prefixes, show_prefixes, strict=True) if ok
        ],
    )
    marker = page.next_key_marker
    if marker is None or marker in {u.key for u in visible.uploads}:
        return visible, marker
    return visible, call.list_tokens.seal(call.bucket, marker)
