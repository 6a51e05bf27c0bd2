"""The gateway's record of a client that left before its answer."""

from __future__ import annotations

from s3gate.errors.base import S3Error


class ClientClosedRequest(S3Error):
    """The client closed its connection before the answer (the 499 of
    nginx's logs): nobody receives this error; the audit event and the
    access log record it. A masked write abandoned this way stores nothing
    (handlers/departure.py, docs/masking.md)."""

    code = "ClientClosedRequest"
    status = 499
    default_message = "The client closed the connection before the answer."
