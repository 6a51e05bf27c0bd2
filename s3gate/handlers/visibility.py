"""What a caller may see of a listing, and where the next page starts.

Listings are decided twice: the listing itself (its prefix) by the gateway,
then every key and common prefix of the page here, on the request's bundle.
Hidden entries are dropped.

A page that hides entries must tell the caller no more than a listing of only
the visible entries would (invariant 9): an empty page marked truncated, or a
`StartAfter` that lands just before a hidden key, would otherwise say that
hidden keys exist and where (bisecting `StartAfter` recovers their names). So
`listing` keeps reading upstream pages until it holds one visible entry more
than the page shows (then, and only then, the page is truncated, and it
resumes after its last *visible* entry) or the listing ends — at most
`server.list_upstream_pages` upstream calls per request. Only when that
bound is hit (a run of that many thousand hidden keys) is a page cut short
with a sealed position; the residual signal is documented in
docs/threat-model.md. Internal prefixes (`.s3gate/`) are skipped in one step.

Resume positions are sealed unless the caller may see them (see `s3.listtokens`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from s3gate.handlers.call import Call
from s3gate.policy import model
from s3gate.s3 import listxml
from s3gate.s3.model import ListPage, ObjectInfo, UploadsPage

# What one upstream listing call may return (S3's own cap).
UPSTREAM_MAX_KEYS = 1000
# Sorts after every character a key can hold: "<prefix>\U0010ffff" is past
# every key under <prefix> (for listing positions only; never stored).
_LAST = "\U0010ffff"


@dataclass(frozen=True)
class Visible:
    page: ListPage
    # The page's resume position as the client must see it: a plain key when
    # visible, otherwise a sealed token. None when not truncated.
    next_marker: str | None
    next_token: str | None  # always sealed (ListObjectsV2)


def decide(call: Call, keys: list[str], prefixes: list[str]) -> tuple[list[bool], list[bool]]:
    requests = model.listing_requests(
        call.principal, call.op.name, call.bucket, keys, prefixes, call.policy_context
    )
    allowed = call.allowed(requests)
    return allowed[: len(keys)], allowed[len(keys) :]


def _entries(page: ListPage) -> list[tuple[bytes, str, ObjectInfo | None]]:
    """The page's keys and common prefixes in listing (UTF-8 byte) order."""
    out: list[tuple[bytes, str, ObjectInfo | None]] = [
        (o.key.encode(), o.key, o) for o in page.contents
    ]
    out += [(p.encode(), p, None) for p in page.common_prefixes]
    out.sort(key=lambda e: e[0])
    return out


def _visible(call: Call, page: ListPage) -> list[tuple[str, ObjectInfo | None]]:
    entries = _entries(page)
    keys = [name for _, name, o in entries if o is not None]
    prefixes = [name for _, name, o in entries if o is None]
    show_keys, show_prefixes = decide(call, keys, prefixes)
    shown = {k for k, ok in zip(keys, show_keys, strict=True) if ok}
    shown |= {p for p, ok in zip(prefixes, show_prefixes, strict=True) if ok}
    return [(name, o) for _, name, o in entries if name in shown]


def past_internal(call: Call, listed_prefix: str, position: str) -> str | None:
    """The position past the whole internal prefix `position` lies in (when
    the listing covers it), None if it lies in none: a million views must
    not cost a thousand empty pages. ListObjectVersions skips the same way."""
    inside = call.bundle.guards.internal_prefix(call.bucket, position)
    if inside is None or not inside.startswith(listed_prefix):
        return None
    return inside + _LAST


async def listing(call: Call, params: listxml.ListParams, after: str | None) -> Visible:
    want = params.max_keys
    if want == 0:  # nothing asked for: nothing said (not even "more follows")
        return Visible(ListPage([], [], False), None, None)
    limit = call.settings.server.list_upstream_pages
    shown: list[tuple[str, ObjectInfo | None]] = []
    position, calls, hid = after, 0, False
    while True:
        # One more than the page holds, to know whether a visible entry
        # follows; a thousand at a time once entries are being hidden.
        need = want + 1 - len(shown)
        page = await call.upstream.list_objects(
            call.bucket,
            prefix=params.prefix,
            delimiter=params.delimiter,
            max_keys=UPSTREAM_MAX_KEYS if hid else min(UPSTREAM_MAX_KEYS, need),
            after=position,
        )
        calls += 1
        visible = _visible(call, page)
        hid = hid or len(visible) < len(page.contents) + len(page.common_prefixes)
        shown += visible
        if not page.is_truncated or page.next_after is None:
            return _result(call, shown[:want], len(shown) > want, want)
        position = past_internal(call, params.prefix, page.next_after) or page.next_after
        if len(shown) > want:
            return _result(call, shown[:want], True, want)
        if calls >= limit:
            break
    # The bound was hit in a run of hidden entries: resume where reading stopped.
    sealed = call.list_tokens.seal(call.bucket, position)
    return Visible(_page(shown, True), sealed, sealed)


def _result(
    call: Call, shown: list[tuple[str, ObjectInfo | None]], truncated: bool, want: int
) -> Visible:
    """A page ending on a visible entry: truncated only when a visible entry
    follows, resuming after the last one shown (its plain name for v1)."""
    if not truncated:
        return Visible(_page(shown, False), None, None)
    last = shown[want - 1][0]
    return Visible(_page(shown, True), last, call.list_tokens.seal(call.bucket, last))


def _page(shown: list[tuple[str, ObjectInfo | None]], truncated: bool) -> ListPage:
    return ListPage(
        contents=[o for _, o in shown if o is not None],
        common_prefixes=[name for name, o in shown if o is None],
        is_truncated=truncated,
        next_after=None,
    )


def uploads(call: Call, page: UploadsPage) -> tuple[UploadsPage, str | None]:
    keys = [u.key for u in page.uploads]
    show_keys, show_prefixes = decide(call, keys, list(page.common_prefixes))
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
