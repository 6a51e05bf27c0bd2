"""What every page answer carries, and what every state-changing request
must show before anything is done.

POSTs: an `Origin` header equal to the page's own origin (browsers send it
on every POST; none, `null` or another is refused), then a form within
MAX_FORM_BYTES whose `csrf` field equals the session's synchronizer token
(compared in constant time). Either missing: RequestForgery (403), and the
service is never called.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import parse_qs

from starlette.requests import Request

from s3gate import errors
from s3gate.approvers.web.cookies import WebSession

MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 20

# No script at all, styles from our own file only, forms only to ourselves,
# never framed; no referrer (a callback URL carries a code and state).
HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def check_origin(request: Request, origin: str) -> None:
    given = request.headers.get("origin")
    if given is None or not secrets.compare_digest(given.encode(), origin.encode()):
        raise errors.RequestForgery()


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, bounded, one value per name."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise errors.InvalidArgument("The form must be application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise errors.InvalidArgument("The form is too large")
    try:
        parsed = parse_qs(body.decode("ascii"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise errors.InvalidArgument("The form cannot be read") from exc
    if any(len(v) != 1 for v in parsed.values()):
        raise errors.InvalidArgument("A form field is repeated")
    return {k: v[0] for k, v in parsed.items()}


def check_csrf(form: Mapping[str, str], session: WebSession) -> None:
    token = form.get("csrf", "")
    if not token or not secrets.compare_digest(token.encode(), session.csrf.encode()):
        raise errors.RequestForgery()
