"""One request's audit trail, from what the data path learned.

Invariant: no response leaves without its event durable first. A response
answered in one go records its `request` event (group-committed fsync) before
it is returned; if the spool cannot take it, the client gets 503
ServiceUnavailable instead. A streamed response (GET) records its decision
event before the first byte, and a completion event (bytes out, the BLAKE3
or, as configured, SHA-256 of what was returned) when the last byte has
gone. Small object bodies are not streamed (handlers.bodies): their one
event carries bytes out and SHA-256.
A kept-alive response (handlers.keepalive: a long CompleteMultipartUpload)
records its decision event before the `200`, and its completion event — the
operation's real outcome, error code included — durably before the final
document; if that cannot be kept the client gets an `<Error>` document.

Requests are refused up front while the spool is known to be failing (after
one shared, rate-limited retry: AuditLog.ensure_accepting), so that the store
is not changed by a request whose event could not be kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator
from urllib.parse import unquote

import blake3
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from s3gate import errors
from s3gate.audit.events import AuditEvent, Detail, MaskingSummary, PrincipalInfo
from s3gate.audit.write.builders import RequestEvent, sts_exchange
from s3gate.audit.write.log import AuditLog
from s3gate.digests import Digest, OffloadedDigests
from s3gate.handlers.keepalive import KeepAliveResponse
from s3gate.handlers.outcome import Outcome, Tally
from s3gate.identity.principal import Principal
from s3gate.policy.decision import Decision
from s3gate.s3.operations import Operation
from s3gate.s3.versionid import MAX_VERSION_ID
from s3gate.transform.summary import MaskSummary


class RequestAudit:
    def __init__(self, log: AuditLog | None, request_id: str, request: Request) -> None:
        self.log = log
        self.event = RequestEvent(
            request_id,
            source_ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            range=request.headers.get("range"),
        )
        self.event.details.update(_versions(request))

    async def require_spool(self) -> None:
        """Fail closed before acting if events cannot currently be kept."""
        # `accepting` first: the common case costs no coroutine.
        log = self.log
        if log is not None and not log.accepting and not await log.ensure_accepting():
            raise errors.ServiceUnavailable("The audit spool is unavailable")

    def identify(self, op: Operation, principal: Principal | None) -> None:
        self.event.operation, self.event.bucket, self.event.key = op.name, op.bucket, op.key
        if principal is not None:
            self.event.set_principal(principal)

    def decided(self, decision: Decision) -> None:
        obligations = tuple(
            [f"mask:{m}" for m in decision.obligations.masks]
            + [f"approval:{a}" for a in decision.obligations.approvals]
        )
        self.event.decide(
            "allow" if decision.allowed else "deny",
            policy_ids=decision.policies,
            bundle_hash=decision.bundle_hash,
            obligations=obligations,
        )

    async def finish(
        self, response: Response, tally: Tally, error: errors.S3Error | None
    ) -> Response:
        """Record the request's event(s); returns the response to send.
        `tally` is the request's record so far (a kept-alive response's work
        still runs: its completion event reads the tally again at the end)."""
        if self.log is None:
            return response
        ev = self.event
        outcome = tally.freeze()
        ev.bytes_in = outcome.bytes_in
        ev.sha256_received = outcome.sha256_received
        self._masked(outcome)
        if isinstance(response, KeepAliveResponse) and error is None:
            await self.log.record(ev.decision())  # durable before the 200
            response.before_final = lambda err: self._final(tally.freeze(), err)
            return response
        if isinstance(response, StreamingResponse) and error is None:
            await self.log.record(ev.decision())  # durable before the first byte
            response.body_iterator = self._completing(
                response.body_iterator, response.status_code, tally
            )
            return response
        # Answered in one go; a small object body was read whole (handlers.bodies),
        # so this one event also says what was returned.
        body = tally.body_out
        returned = hashlib.sha256(body).hexdigest() if body is not None else None
        await self.log.record(
            ev.completion(
                response.status_code,
                error=error,
                sha256_stored=outcome.sha256_stored,
                bytes_out=outcome.bytes_out if returned is not None else None,
                sha256_returned=returned,
            )
        )
        return response

    def _masked(self, outcome: Outcome) -> None:
        summary = outcome.mask_summary
        if summary is not None:
            self.event.masking = _masking(summary)
            if summary.blocked:
                self.event.outcome = "blocked"
            elif summary.held:
                self.event.outcome = "held"

    async def _final(self, outcome: Outcome, error: errors.S3Error | None) -> None:
        """A kept-alive response's outcome, durable before its final document
        (the status already sent was 200; the event records the error's)."""
        assert self.log is not None
        self._masked(outcome)  # the work has run since the decision event
        status = 200 if error is None else error.status
        await self.log.record(
            self.event.completion(status, error=error, sha256_stored=outcome.sha256_stored)
        )

    async def _completing(
        self, body: AsyncIterable[str | bytes | memoryview], status: int, tally: Tally
    ) -> AsyncIterator[str | bytes | memoryview]:
        # BLAKE3 unless the deployment asked for SHA-256 (docs/audit.md,
        # "Digests of returned bodies"): on a large GET the digest is most of
        # what the gateway adds to the relay's CPU.
        use_blake3 = self.log is not None and self.log.settings.returned_digest == "blake3"
        digest: Digest = blake3.blake3() if use_blake3 else hashlib.sha256()
        sent = 0
        hashing = OffloadedDigests((digest,))
        complete = False
        try:
            async for piece in body:
                data = piece.encode() if isinstance(piece, str) else bytes(piece)
                await hashing.feed(data)
                sent += len(data)
                yield piece
            await hashing.finish()
            complete = True
        finally:
            assert self.log is not None
            # A view masked as it is sent (masking.live) has its whole
            # summary only now (or the refusal that broke it).
            self._masked(tally.freeze())
            # The body is out (or the client left): nothing waits on this one.
            value = digest.hexdigest() if complete else None
            self.log.record_nowait(
                self.event.completion(
                    status if complete else 499,
                    bytes_out=sent,
                    sha256_returned=None if use_blake3 else value,
                    blake3_returned=value if use_blake3 else None,
                )
            )


def _masking(summary: MaskSummary) -> MaskingSummary:
    action = "block" if summary.blocked else "hold" if summary.held else None
    counts: dict[str, int] = {**summary.detectors, **summary.rules}
    rejected = dict(sorted(summary.rejected.items()))
    if action is None and (any(counts.values()) or summary.records_rejected):
        action = "rewrite"  # leaving records out rewrites the body too
    return MaskingSummary(",".join(summary.profiles), counts, action, rejected)


async def record_sts(
    log: AuditLog | None,
    request: Request,
    outcome: Outcome,
    status: int,
) -> None:
    """An STS exchange, granted or refused (the token is never recorded)."""
    if log is None:
        return
    await log.record(sts_event(outcome, request, status))


def sts_event(outcome: Outcome, request: Request, status: int) -> AuditEvent:
    """The `sts.exchange` event of an STS request's outcome: the principal
    is the session granted (STS requests are unsigned), the role the one asked for."""
    allowed = outcome.error is None and status < 400
    principal = (
        PrincipalInfo(
            subject=outcome.principal or "",
            access_key_id=outcome.session_access_key_id,
            source="session",
            issuer=outcome.issuer,
            role=outcome.role,
        )
        if outcome.session_access_key_id is not None
        else None
    )
    return sts_exchange(
        outcome.request_id,
        allowed=allowed,
        principal=principal,
        role_arn=outcome.role_arn,
        error_code=outcome.error,
        status=status,
        source_ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def _versions(request: Request) -> dict[str, Detail]:
    """The object versions a request names: `version_id` (versionId of a
    GET, HEAD or DELETE), `copy_source_version_id` (of a copy source).
    Recorded as sent, bounded (a request refused for an invalid one, by
    `s3.versionid`, still says what it named)."""
    out: dict[str, Detail] = {}
    version = request.query_params.get("versionId")
    if version:
        out["version_id"] = version[:MAX_VERSION_ID]
    source = request.headers.get("x-amz-copy-source", "")
    _, sep, query = source.partition("?versionId=")
    if sep and query:
        out["copy_source_version_id"] = unquote(query)[:MAX_VERSION_ID]
    return out
