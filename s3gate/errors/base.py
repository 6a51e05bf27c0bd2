"""The root of every error an S3 client can see, and the pass-through of an
upstream store's own S3 errors."""

from __future__ import annotations

from typing import ClassVar

from s3gate.xmltext import escape


class S3Error(Exception):
    code: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "We encountered an internal error. Please try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        resource: str | None = None,
        extra: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.resource = resource
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        super().__init__(f"{self.error_code}: {self.message}")

    @property
    def error_code(self) -> str:
        return self.code

    @property
    def http_status(self) -> int:
        return self.status

    def to_xml(self, request_id: str, resource: str | None = None) -> bytes:
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
            f"<Code>{escape(self.error_code)}</Code>",
            f"<Message>{escape(self.message)}</Message>",
        ]
        res = self.resource if self.resource is not None else resource
        if res:
            parts.append(f"<Resource>{escape(res)}</Resource>")
        for name, value in self.extra.items():
            parts.append(f"<{name}>{escape(value)}</{name}>")
        parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
        parts.append(f"<HostId>{escape(request_id)}</HostId></Error>")
        return "".join(parts).encode()


class UpstreamError(S3Error):
    """An S3 error reported by the upstream store, passed through with its code."""

    def __init__(self, code: str, status: int, message: str | None = None) -> None:
        self._code = code
        self._status = status
        super().__init__(message or f"The upstream store answered {code}")

    @property
    def error_code(self) -> str:
        return self._code

    @property
    def http_status(self) -> int:
        return self._status
