"""The gateway's audit endpoint: `GET /_s3gate/audit/keys`.

Serves the JWKS of every published audit key (the active one and those kept
after rotations) so verifiers can fetch them with standard tools. Public keys
fetched from the gateway are as trustworthy as the connection to it: auditors
should pin fingerprints obtained out of band (docs/audit.md, "Trust model").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class _HasKeys(Protocol):
    def public_keys(self) -> dict[str, object]: ...


def keys_endpoint(audit: _HasKeys) -> Callable[[Request], Awaitable[Response]]:
    async def audit_keys(request: Request) -> Response:
        return JSONResponse(audit.public_keys(), headers={"Cache-Control": "max-age=60"})

    return audit_keys
