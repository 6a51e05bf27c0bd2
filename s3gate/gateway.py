"""The S3 data path for one request: parse, authenticate, dispatch, answer.

This module only wires the seams together (s3 → sigv4 → identity → handlers →
upstream); S3 semantics live in `handlers`, signing rules in `sigv4`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from s3gate import errors
from s3gate.accesslog import AccessLog
from s3gate.approvals.service import ApprovalService
from s3gate.audit.write.log import AuditLog
from s3gate.auditing import RequestAudit, record_sts
from s3gate.authn import Authenticator, RawRequest
from s3gate.config import Settings
from s3gate.handlers import BODY_OPERATIONS, HANDLERS, decide
from s3gate.handlers.bodies import left_unread
from s3gate.handlers.call import Call
from s3gate.handlers.departure import Departure
from s3gate.handlers.outcome import Tally
from s3gate.handlers.sts import answer_sts_request
from s3gate.identity.resolver import CredentialResolver
from s3gate.identity.sts import StsService
from s3gate.masking.service import MaskingService
from s3gate.policy import enforce
from s3gate.policy.store import PolicyStore
from s3gate.s3 import acl, conditions, cors, objectlock
from s3gate.s3.errorpage import error_response
from s3gate.s3.listtokens import ListTokens
from s3gate.s3.operations import Operation, describe, resolve, split_target
from s3gate.s3.sts import is_sts
from s3gate.s3.versionid import requested_version
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate")


def new_request_id() -> str:
    return secrets.token_hex(8).upper()


async def _received(request: Request) -> AsyncIterator[bytes]:
    """The request body; a client that leaves before its end is
    ClientClosedRequest (499 in the audit event and the access log), never an
    internal error (handlers.departure covers the time after the body)."""
    try:
        async for piece in request.stream():
            yield piece
    except ClientDisconnect:
        raise errors.ClientClosedRequest() from None


class Gateway:
    def __init__(
        self,
        settings: Settings,
        upstream: Upstream,
        credentials: CredentialResolver,
        policies: PolicyStore,
        list_tokens: ListTokens,
        masking: MaskingService,
        access_log: AccessLog,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sts: StsService | None = None,
        audit: AuditLog | None = None,
        approvals: ApprovalService | None = None,
    ) -> None:
        self.settings = settings
        self.approvals = approvals
        self.sts = sts
        self.audit = audit
        self.upstream = upstream
        self.authenticator = Authenticator(credentials, settings.server, clock)
        self.policies = policies
        self.list_tokens = list_tokens
        self.masking = masking
        self.clock = clock
        self.access_log = access_log

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = new_request_id()
        tally = _tally(request_id, request)
        if self._is_sts(request):
            return await self._sts(request, request_id, tally, started)
        if request.method == "OPTIONS":
            return await self._preflight(request, request_id, tally, started)
        op: Operation | None = None
        call: Call | None = None
        error: errors.S3Error | None = None
        audit = RequestAudit(self.audit, request_id, request)
        try:
            call = await self._prepare(request, request_id, tally, audit)
            op = call.op
            response = await HANDLERS[op.name](call)
        except errors.S3Error as exc:
            error = exc
        except Exception:  # fail closed with a request id the operator can find
            log.exception("internal error", extra={"request_id": request_id})
            error = errors.InternalError()
        if error is not None:
            if op is None:
                self._identify_refused(request, tally, audit)
            response = self._error(error, request, request_id, op)
            tally.error = error.error_code
        return await self._answer(
            request, response, request_id, tally, started, audit, call, op, error
        )

    async def refuse(self, request: Request, error: errors.S3Error) -> Response:
        """A request the router refused before any handler (a method that a
        gateway endpoint does not serve): answered, audited and logged as any
        S3 error is."""
        started = time.perf_counter()
        request_id = new_request_id()
        tally = _tally(request_id, request)
        tally.error = error.error_code
        audit = RequestAudit(self.audit, request_id, request)
        response = self._error(error, request, request_id, None)
        return await self._answer(
            request, response, request_id, tally, started, audit, None, None, error
        )

    async def _answer(
        self,
        request: Request,
        response: Response,
        request_id: str,
        tally: Tally,
        started: float,
        audit: RequestAudit,
        call: Call | None,
        op: Operation | None,
        error: errors.S3Error | None,
    ) -> Response:
        """The common end of every answer: audit event, headers, access log."""
        if call is not None:
            tally.sha256_received = call.body.sha256_hex
        try:
            response = await audit.finish(response, tally, error)
        except errors.S3Error as exc:  # its event could not be kept: not answered
            if response.background is not None:
                await response.background()  # releases an upstream stream
            response = self._error(exc, request, request_id, op)
            tally.error = exc.error_code
        if response.status_code >= 400 and left_unread(
            request.headers, call.body if call is not None else None
        ):
            # The rest of the body is still on the connection; reading a
            # refused upload to its end could take gigabytes, so close. (After
            # the audit: an error it substitutes needs this as much.)
            response.headers["connection"] = "close"
        bucket = tally.bucket
        if bucket is not None and bucket in self.settings.cors:
            # Errors too: a browser app can only read what carries these.
            response.headers.update(
                cors.response_headers(
                    self.settings.cors[bucket], request.headers.get("origin"), request.method
                )
            )
        response.headers["x-amz-request-id"] = request_id
        response.headers["x-amz-id-2"] = request_id
        self.access_log.attach(response, tally, started)
        return response

    async def _preflight(
        self, request: Request, request_id: str, tally: Tally, started: float
    ) -> Response:
        """A CORS preflight: unauthenticated (browsers send no credentials),
        answered from the bucket's configured rules alone; it grants nothing
        by itself. Audited and logged like any request."""
        audit = RequestAudit(self.audit, request_id, request)
        error: errors.S3Error | None = None
        op: Operation | None = None
        response = Response(b"")
        try:
            bucket, key = split_target(
                request.headers.get("host", ""),
                request.scope.get("raw_path") or request.scope["path"].encode(),
                self.settings.server.virtual_host_domains,
            )
            op = Operation("PreflightCORS", bucket, key)
            tally.target(op.name, bucket, key)
            audit.identify(op, None)
            rules = self.settings.cors.get(bucket) if bucket is not None else None
            response.headers.update(cors.preflight(rules, request.headers))
        except errors.S3Error as exc:
            error = exc
            response = self._error(exc, request, request_id, op)
            tally.error = exc.error_code
        try:
            response = await audit.finish(response, tally, error)
        except errors.S3Error as exc:
            response = self._error(exc, request, request_id, op)
            tally.error = exc.error_code
        if left_unread(request.headers, None):
            response.headers["connection"] = "close"  # a preflight has no body to read
        response.headers["x-amz-request-id"] = request_id
        response.headers["x-amz-id-2"] = request_id
        self.access_log.attach(response, tally, started)
        return response

    async def _sts(
        self, request: Request, request_id: str, tally: Tally, started: float
    ) -> Response:
        # Unsigned by design: the web identity token is the credential.
        reply = await answer_sts_request(request, request_id, self.sts)
        response = reply.response
        reply.outcome.record(tally)
        try:
            await record_sts(self.audit, request, tally.freeze(), response.status_code)
        except errors.S3Error as exc:
            response = self._error(exc, request, request_id, None)
            tally.error = exc.error_code
        response.headers["x-amz-request-id"] = request_id
        self.access_log.attach(response, tally, started)
        return response

    def _identify_refused(self, request: Request, tally: Tally, audit: RequestAudit) -> None:
        """Operation, bucket and key of a request refused before they were
        resolved (NotImplemented, an invalid bucket name, …), as far as
        they can be told, for its access-log line and audit event."""
        if tally.operation is not None:
            return
        raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
        known = describe(
            request.method,
            request.headers.get("host", ""),
            raw_path,
            request.query_params,
            request.headers,
            self.settings.server.virtual_host_domains,
        )
        if known is not None:
            tally.target(known.name, known.bucket, known.key)
            audit.identify(known, None)

    def _is_sts(self, request: Request) -> bool:
        """STS shares the S3 endpoint (s3.sts)."""
        return is_sts(
            request.method,
            request.headers.get("host", ""),
            request.scope["path"],
            request.query_params,
            request.headers.get("content-type"),
            self.settings.server.virtual_host_domains,
        )

    async def _prepare(
        self, request: Request, request_id: str, tally: Tally, audit: RequestAudit
    ) -> Call:
        raw = RawRequest.from_scope(request.scope, request.method)
        op = resolve(
            raw.method,
            raw.headers.get("host", ""),
            raw.raw_path,
            raw.query,
            raw.headers,
            self.settings.server.virtual_host_domains,
        )
        tally.target(op.name, op.bucket, op.key)
        audit.identify(op, None)
        authn = self.authenticator.authenticate(raw, op, _received(request))
        principal, body = authn.principal, authn.body
        audit.identify(op, principal)
        await audit.require_spool()
        tally.who(principal)
        bundle = self.policies.current()
        context = enforce.context_from_http(
            op.name,
            headers=raw.headers,
            query=raw.query,
            client_ip=request.client.host if request.client else None,
            tls=request.url.scheme == "https",
            presigned=authn.presigned,
            now=self.clock(),
            version_id=requested_version(op.name, raw.query, raw.headers),
        )
        # A denial raises before anything upstream (handlers.decide).
        decision = decide.authorize(bundle, principal, op, raw.headers, context)
        if decision is not None:
            audit.decided(decision)
            decide.require_allowed(
                decision, op, request_id, self.settings.policy.denial_detail, self.approvals
            )
            tally.decision = decision
            tally.approval = await decide.read_grant(
                decision, op, principal, request_id, self.approvals
            )
        if op.name in acl.ACL_HEADER_OPERATIONS:
            acl.check_headers(raw.headers)  # nothing but the private ACL
        objectlock.refuse_lock_headers(raw.headers)  # retention is the store's
        if op.name in conditions.CONDITIONAL_WRITES:
            conditions.refuse_conditional_write(raw.headers)
        if op.name not in BODY_OPERATIONS:
            await body.read_all(self.settings.server.max_xml_bytes)
        return Call(
            request_id=request_id,
            op=op,
            query=raw.query,
            headers=raw.headers,
            principal=principal,
            body=body,
            upstream=self.upstream,
            settings=self.settings,
            bundle=bundle,
            policy_context=context,
            decision=decision,
            list_tokens=self.list_tokens,
            masking=self.masking,
            approvals=self.approvals,
            tally=tally,
            http_version=str(request.scope.get("http_version", "1.1")),
            departure=Departure(request.receive),
        )

    def _error(
        self, exc: errors.S3Error, request: Request, request_id: str, op: Operation | None
    ) -> Response:
        resource = op.resource if op is not None else request.url.path
        return error_response(exc, request.method, request_id, resource)


def _tally(request_id: str, request: Request) -> Tally:
    """The request's record, first fields. The client address is the peer's,
    or the one a trusted proxy forwarded (`server.forwarded_allow_ips`)."""
    return Tally(
        request_id=request_id,
        method=request.method,
        source_ip=request.client.host if request.client else None,
    )
