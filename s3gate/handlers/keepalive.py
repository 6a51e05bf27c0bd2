"""A long operation answered `200` at once, kept alive with whitespace.

S3 does this for CompleteMultipartUpload and CopyObject: the status line and
`<?xml …?>` go out first, then a space every few seconds while the work runs,
then the result document — or an `<Error>` document inside the same 200 body
when the work failed. botocore parses both (its `_handle_200_error` turns an
`<Error>` root in a 200 body into a 500, so the SDKs and the `aws` CLI raise
or retry it as any other error); a client whose read timeout is shorter than
the whole operation never times out, because a byte arrives every interval.

The request's outcome is audited before its final bytes: the audit wiring
sets `before_final`, which records the completion event durably; if that
fails the client gets an `<Error>` document instead of the result. A client
that leaves before the end does not stop the work; its outcome is audited
when the work finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import StreamingResponse

from s3gate import errors
from s3gate.s3.xmldoc import HEAD

# Called with the work's error (None on success) before the final document;
# raising an S3Error replaces the result with that error's document.
BeforeFinal = Callable[[errors.S3Error | None], Awaitable[None]]

_background: set[asyncio.Task[None]] = set()


class KeepAliveResponse(StreamingResponse):
    def __init__(
        self,
        work: asyncio.Future[bytes],
        *,
        request_id: str,
        resource: str,
        interval: float,
    ) -> None:
        self.work = work
        self.request_id = request_id
        self.resource = resource
        self.interval = interval
        self.before_final: BeforeFinal | None = None
        super().__init__(self._body(), status_code=200, media_type="application/xml")

    def _outcome(self) -> tuple[bytes, errors.S3Error | None]:
        exc = self.work.exception()
        if exc is None:
            return _without_head(self.work.result()), None
        error = exc if isinstance(exc, errors.S3Error) else errors.InternalError()
        return self._error_document(error), error

    def _error_document(self, error: errors.S3Error) -> bytes:
        return _without_head(error.to_xml(self.request_id, self.resource))

    async def _body(self) -> AsyncIterator[bytes]:
        final_sent = False
        try:
            yield HEAD.encode()
            while not self.work.done():
                await asyncio.wait({self.work}, timeout=self.interval)
                if not self.work.done():
                    yield b" "
            body, error = self._outcome()
            if self.before_final is not None:
                try:
                    await self.before_final(error)
                except errors.S3Error as exc:  # the outcome could not be audited
                    body = self._error_document(exc)
            final_sent = True
            yield body
        finally:
            if not final_sent:
                task = asyncio.ensure_future(self._unseen())
                _background.add(task)
                task.add_done_callback(_background.discard)

    async def _unseen(self) -> None:
        """The client left: audit the outcome when the work ends."""
        await asyncio.wait({self.work})
        _, error = self._outcome()
        if self.before_final is not None:
            # Nobody to tell; the audit log reports its own failure.
            with contextlib.suppress(errors.S3Error):
                await self.before_final(error)


def _without_head(document: bytes) -> bytes:
    head = HEAD.encode()
    return document[len(head) :] if document.startswith(head) else document
