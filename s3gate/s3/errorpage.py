"""An S3 error as the HTTP response a client gets: the `<Error>` document, or
no body for HEAD and 304 (S3 sends none; the status and headers say it)."""

from __future__ import annotations

from starlette.responses import Response

from s3gate import errors


def error_response(exc: errors.S3Error, method: str, request_id: str, resource: str) -> Response:
    status = exc.http_status
    headers = dict(exc.headers)
    if method == "HEAD" or status == 304:
        return Response(b"", status_code=status, headers=headers)
    return Response(
        exc.to_xml(request_id, resource),
        status_code=status,
        media_type="application/xml",
        headers=headers,
    )
