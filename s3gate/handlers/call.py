"""One S3 call as the handlers see it: who, what, the body, and the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from starlette.responses import Response

from s3gate import errors
from s3gate.config import Settings
from s3gate.handlers.departure import Departure
from s3gate.handlers.outcome import Tally
from s3gate.identity.principal import Principal
from s3gate.masking.profiles import profiles_for
from s3gate.masking.service import MaskingService
from s3gate.policy.cedar import Bundle
from s3gate.policy.decision import Decision
from s3gate.policy.model import AccessRequest, RequestContext
from s3gate.s3.listtokens import ListTokens
from s3gate.s3.numbers import whole_number
from s3gate.s3.operations import Operation
from s3gate.s3.versionid import query_version
from s3gate.sigv4.body import VerifiedBody
from s3gate.transform.profile import Profile
from s3gate.upstream.base import Body, Upstream

if TYPE_CHECKING:  # approvals imports the masking layer, which imports this
    from s3gate.approvals.service import ApprovalService

XML_TYPE = "application/xml"


@dataclass
class Call:
    request_id: str
    op: Operation
    query: Mapping[str, str]
    headers: Mapping[str, str]
    principal: Principal
    body: VerifiedBody
    upstream: Upstream
    settings: Settings
    # Policy: the one bundle this request is decided by (never a mix), the
    # context every decision of the request uses, and the operation's decision
    # (None for per-item operations, which are decided item by item).
    bundle: Bundle
    policy_context: RequestContext
    decision: Decision | None
    list_tokens: ListTokens
    masking: MaskingService
    # What the request came to, filled in as it runs, for the audit event, the
    # access log and the metrics (handlers.outcome); never read for control flow.
    tally: Tally
    # Where held writes go (None: `hold` and `@approval` only refuse).
    approvals: ApprovalService | None = None
    # The request's HTTP version ("1.0", "1.1", "2"): a body of unknown
    # length is streamed only where a cut-short one shows (chunked framing).
    http_version: str = "1.1"
    # Notices the client leaving once its body is read (handlers.departure);
    # None: not watched (unit tests that build a Call by hand).
    departure: Departure | None = None

    @property
    def bucket(self) -> str:
        assert self.op.bucket is not None
        return self.op.bucket

    @property
    def key(self) -> str:
        assert self.op.key is not None
        return self.op.key

    def mask_profiles(self) -> list[Profile]:
        """The masking profiles this request's decision requires (often none)."""
        if self.decision is None or not self.decision.obligations.masks:
            return []
        return profiles_for(self.bundle, self.decision.obligations.masks)

    def needs_approval(self) -> bool:
        """The decision carries `@approval` obligations (the gateway lets only
        a PutObject through with them: it goes to quarantine)."""
        return self.decision is not None and bool(self.decision.obligations.approvals)

    def allowed(self, requests: list[AccessRequest]) -> list[bool]:
        """Per-item decisions (listing entries, DeleteObjects keys, buckets)."""
        return [d.allowed for d in self.bundle.decide_many(requests)]

    def int_param(self, name: str, default: int, *, low: int = 0, high: int | None = None) -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        # ASCII digits only, within a length (s3/numbers.py): `int()` would
        # take "٣", " 5" or "1_0".
        value = whole_number(raw)
        if value is None:
            raise errors.InvalidArgument(f"{name} must be an integer")
        if value < low:
            raise errors.InvalidArgument(f"{name} must be at least {low}")
        return value if high is None else min(value, high)

    async def read_xml(self) -> bytes:
        return await self.body.read_all(self.settings.server.max_xml_bytes)

    def declared_length(self) -> int:
        """The upload's length as declared, within the configured maximum."""
        length = self.body.length
        if length is None:
            raise errors.MissingContentLength()
        if length > self.settings.server.max_object_bytes:
            raise errors.EntityTooLarge(extra={"ProposedSize": str(length)})
        self.tally.bytes_in = length
        return length

    async def upstream_body(self) -> Body:
        """The verified client body, ready to send upstream.

        Small bodies are received and verified whole first, so the store can
        check them too (SHA-256 and MD5 are sent along). Large ones stream; the
        verified body withholds its last bytes until every check has passed, so
        a failed check aborts the upstream request short of its length."""
        length = self.declared_length()
        if length <= self.settings.server.buffer_limit_bytes:
            return Body.of(await self.body.read_all(length))
        return Body(aiter(self.body), length)

    async def stored_as_sent(self) -> Body:
        """`upstream_body` for bytes stored exactly as the client sent them,
        with the client's flexible checksum so the store keeps it too: the
        verified one of a buffered body (header or trailer), the header's
        value of a streamed one (a wrong one fails the body before its end).
        A streamed body whose checksum is in a trailer goes without."""
        body = await self.upstream_body()
        checksum = self.body.verified_checksum or self.body.declared_checksum
        return replace(body, checksum=checksum) if checksum is not None else body

    def checksum_headers(self) -> dict[str, str]:
        """The response headers for a body stored as sent: its verified
        checksum, as S3 answers PutObject / UploadPart."""
        if self.body.verified_checksum is None:
            return {}
        algorithm, value = self.body.verified_checksum
        return {f"x-amz-checksum-{algorithm.lower()}": value}

    @property
    def version_id(self) -> str | None:
        """The `versionId` of a GET, HEAD or DELETE, checked; None without one."""
        return query_version(self.query)

    @property
    def checksum_mode(self) -> bool:
        return self.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=XML_TYPE, headers=headers)


def empty_response(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)
