"""The ASGI application: the S3 catch-all route plus `/_s3gate/` endpoints.

No S3 bucket name can start with `_`, so the gateway's own endpoints never
shadow a bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, request_response
from starlette.types import Receive, Scope, Send

from s3gate import errors
from s3gate.accesslog import AccessLog
from s3gate.approvals.keys import approval_keys, approval_web_keys
from s3gate.approvals.notify import Notifier, WebhookSettings
from s3gate.approvals.rules import ApprovalsPart
from s3gate.approvals.service import ApprovalService
from s3gate.approvals.store import HoldStore
from s3gate.approvers.api import api_routes
from s3gate.approvers.web.cookies import CookieSealer
from s3gate.approvers.web.pages import WebPages
from s3gate.approvers.web.signin import SignIn
from s3gate.audit.routes import keys_endpoint
from s3gate.audit.write.builders import policy_bundle
from s3gate.audit.write.log import AuditLog, replica_id
from s3gate.config import ConfigError, Settings
from s3gate.gateway import Gateway
from s3gate.handlers import HANDLERS
from s3gate.identity.resolver import CredentialResolver
from s3gate.identity.roles import RoleBook, RolesError
from s3gate.identity.sessions import SessionSealer
from s3gate.identity.sharedkeys import LIST_TOKENS, shared_keys
from s3gate.identity.static_keys import StaticKeys
from s3gate.identity.sts import StsService
from s3gate.masking import keys as masking_keys
from s3gate.masking.profiles import PART as MASKING_PART
from s3gate.masking.profiles import MaskingPart
from s3gate.masking.service import MaskingService
from s3gate.metrics import Metrics
from s3gate.policy.loader import BundlePart
from s3gate.policy.rolespart import PART as ROLES
from s3gate.policy.rolespart import RolesPart
from s3gate.policy.store import PolicyStore, ReloadOutcome
from s3gate.s3.listtokens import ListTokens
from s3gate.status import (
    Readiness,
    StatusAccess,
    coalesced,
    readyz,
    status,
)
from s3gate.transform.profile import MaskingProfiles
from s3gate.upstream import build_upstream
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate")


def create_app(
    settings: Settings,
    upstream: Upstream | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    refusals: Mapping[str, int] | None = None,
) -> Starlette:
    """The app; `refusals` are the HTTP protocol's refusal counts
    (`httplimits.Refusals.counts`), exported as metrics when given."""
    store = upstream if upstream is not None else build_upstream(settings.upstream)
    # No session keys: no STS, and session tokens are refused (InvalidToken).
    sealer = SessionSealer.from_settings(settings.identity)
    # Roles come with the policy bundle (reloaded with it) unless a roles file
    # is configured separately.
    roles_in_bundle = sealer is not None and settings.identity.roles_file is None
    parts: list[BundlePart] = [
        MaskingPart(masking_keys.token_keys(settings.masking, settings.data_dir)),
        ApprovalsPart(),
    ]
    if roles_in_bundle:
        parts.append(RolesPart([i.name for i in settings.identity.issuers]))
    # An invalid bundle at start-up stops the process (BundleError): there is
    # no "old bundle" to fall back on.
    policies = PolicyStore(settings.policy, parts=parts)
    sts: StsService | None = None
    if sealer is not None:
        roles = policies.current().extras.get(ROLES) if roles_in_bundle else None
        try:
            sts = StsService.from_settings(
                settings.identity, sealer, roles if isinstance(roles, RoleBook) else None
            )
        except RolesError as exc:
            raise ConfigError(str(exc)) from exc
        if roles_in_bundle:
            _follow_roles(policies, sts)
    audit: AuditLog | None = None
    if settings.audit.enabled:
        audit = AuditLog(
            settings.audit, store, replica_id(settings.audit), data_dir=settings.data_dir
        )
    masking = MaskingService(
        settings.masking,
        settings.data_dir,
        *masking_keys.staging_keys(settings.identity),
        view_index_cache_entries=settings.views.index_cache_entries,
    )
    metrics: Metrics | None = None
    if settings.server.metrics:
        metrics = Metrics([*HANDLERS, "PreflightCORS"])
        metrics.watch(policies.status, audit.status if audit is not None else None)
        if refusals is not None:
            metrics.watch_refusals(refusals)
        metrics.watch_views(lambda: masking.views.counts)
    approvals = _approvals(settings, store, policies, masking, audit)
    web = _web_pages(settings, approvals, sts, audit)
    gateway = Gateway(
        settings,
        store,
        CredentialResolver(StaticKeys(settings.static_keys), sealer),
        policies,
        ListTokens.from_ring(shared_keys(settings.identity, LIST_TOKENS)),
        masking,
        AccessLog(settings.server.access_log, metrics),
        sts=sts,
        audit=audit,
        approvals=approvals,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readiness() -> Readiness:
        body: dict[str, object] = {"policy": policies.status()}
        try:
            await store.probe()
        except errors.S3Error as exc:
            body["upstream"] = exc.message
            return Readiness(False, body)
        body["upstream"] = "reachable"
        ready = True
        if audit is not None:
            # A backlog (audit bucket unreachable) is reported, not fatal: the
            # events are safe in the spool. A spool that cannot be written is,
            # and so is an audit bucket that does not exist.
            await audit.ensure_accepting()  # a spool that failed may work again
            body["audit"] = state = audit.status()
            missing = await _missing_audit_bucket(store, settings.audit.bucket)
            if missing:
                state["bucket_error"] = missing
            ready = bool(state["started"] and state["spool_writable"]) and not missing
        return Readiness(ready, body)

    # Public: one check at a time, however many probes arrive together.
    shared_readiness = coalesced(readiness)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.start()
        for bucket in settings.upstream.create_buckets:
            with contextlib.suppress(errors.BucketAlreadyOwnedByYou):
                try:
                    await store.create_bucket(bucket)
                except errors.UpstreamError as exc:
                    if exc.error_code != "BucketAlreadyExists":
                        raise
        if audit is not None:
            missing = await _missing_audit_bucket(store, settings.audit.bucket)
            if missing:  # NoSuchBucket forever after "ready" helps nobody
                log.error("%s", missing)
                raise ConfigError(missing)
            await audit.start()
            _audit_policy_reloads(policies, audit)
        await policies.start()  # watcher + SIGHUP
        await masking.start()  # worker processes, off the loop
        _warm_masking_workers(policies, masking)
        sweeper = asyncio.create_task(_sweep_staged_uploads(masking, store))
        hold_sweeper = (
            asyncio.create_task(_sweep_holds(approvals, settings.approvals.sweep_seconds))
            if approvals is not None
            else None
        )
        if sts is not None:
            await sts.validator.keys.warm()  # logs an unreachable issuer; not fatal
        log.info("s3gate ready", extra={"upstream": settings.upstream.type})
        try:
            yield
        finally:
            sweeper.cancel()
            if hold_sweeper is not None:
                hold_sweeper.cancel()
            if approvals is not None and approvals.notifier is not None:
                await approvals.notifier.close()
            if web is not None:
                await web.signin.close()
            if sts is not None:
                await sts.close()
            await policies.stop()
            await masking.stop()
            if audit is not None:
                await audit.close()
            await store.close()

    s3_api = _AllMethods(gateway.handle)
    routes = [
        Route("/_s3gate/healthz", healthz, methods=["GET"]),
        Route("/_s3gate/readyz", readyz(shared_readiness), methods=["GET"]),
        Route(
            "/_s3gate/status",
            status(
                readiness,  # authenticated: no flood to absorb, always fresh
                StatusAccess(
                    gateway.authenticator,
                    policies,
                    settings.audit.bucket,
                    gateway.clock,
                    gateway.access_log,
                ),
            ),
            methods=["GET"],
        ),
        *([Route("/_s3gate/metrics", metrics.endpoint, methods=["GET"])] if metrics else []),
        *([Route("/_s3gate/audit/keys", keys_endpoint(audit))] if audit is not None else []),
        *(api_routes(approvals, gateway.authenticator, audit) if approvals is not None else []),
        *(web.routes() if web is not None else []),
        *extra_routes,
        # Every method (an ASGI endpoint; Starlette limits a function endpoint
        # to GET): one the S3 API does not define is answered by the
        # gateway (MethodNotAllowed / NotImplemented, audited), not Starlette.
        Route("/{path:path}", s3_api),
    ]

    async def refused(request: Request, exc: Exception) -> Response:
        # A safety net: every path and method reaches a route (a gateway
        # endpoint asked with another method is an S3 request to the bucket
        # "_s3gate", InvalidBucketName), but should Starlette refuse a request
        # itself, the answer is S3 XML and audited all the same.
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        error = errors.MethodNotAllowed() if status == 405 else errors.InvalidRequest()
        return await gateway.refuse(request, error)

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: refused})
    # A path that even the catch-all does not match (its pattern stops at a
    # line break: `%0A` in a path) goes to the gateway too, which answers
    # S3 XML with a request id and an audit event, never a plain-text 404.
    app.router.default = s3_api
    return app


class _AllMethods:
    """A request handler as an ASGI app object: a Route given one (rather
    than a function) matches every method."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


async def _missing_audit_bucket(store: Upstream, bucket: str) -> str | None:
    """A message naming the audit bucket if the store says it does not exist;
    None if it exists or the store cannot say right now (unreachable: the
    events wait in the spool, and readiness reports the upstream)."""
    try:
        await store.head_bucket(bucket)
    except errors.S3Error as exc:
        if exc.error_code != "NoSuchBucket":
            log.warning("could not check the audit bucket %r: %s", bucket, exc.error_code)
            return None
        return (
            f"audit.bucket: the audit bucket {bucket!r} does not exist in the upstream store; "
            "create it (or list it in upstream.create_buckets)"
        )
    return None


def _follow_roles(policies: PolicyStore, sts: StsService) -> None:
    """STS uses the roles of the bundle in force: swapped with each reload."""

    def on_reload(outcome: ReloadOutcome) -> None:
        roles = policies.current().extras.get(ROLES)
        if outcome.status == "loaded" and isinstance(roles, RoleBook):
            sts.replace_roles(roles)

    policies.subscribe(on_reload)


def _warm_masking_workers(policies: PolicyStore, masking: MaskingService) -> None:
    """Workers compile each profile's hyperscan database when a bundle
    loads (about 2 s for write-default), not at the first masked request."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def warm() -> None:
        loaded = policies.current().extras.get(MASKING_PART)
        if isinstance(loaded, MaskingProfiles):
            task = loop.create_task(masking.warm(list(loaded)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    def on_reload(outcome: ReloadOutcome) -> None:
        if outcome.status == "loaded":
            loop.call_soon_threadsafe(warm)

    warm()
    policies.subscribe(on_reload)


def _audit_policy_reloads(policies: PolicyStore, audit: AuditLog) -> None:
    """Every bundle load and rejection is an audit event. Reloads run in a
    worker thread; the event is handed to the event loop."""
    loop = asyncio.get_running_loop()

    def on_reload(outcome: ReloadOutcome) -> None:
        if outcome.status == "unchanged":
            return
        event = policy_bundle(
            loaded=outcome.status == "loaded",
            bundle_hash=outcome.bundle_hash,
            source=outcome.trigger,
            error=outcome.error,
        )
        loop.call_soon_threadsafe(audit.record_nowait, event)

    policies.subscribe(on_reload)


async def _sweep_staged_uploads(masking: MaskingService, store: Upstream) -> None:
    """Hourly: remove masked multipart uploads past their expiry (all replicas
    may do it; deletes are idempotent)."""
    while True:
        try:
            removed = await masking.staging.sweep(store)
            if removed:
                log.info("removed %d expired staged uploads", removed)
        except errors.S3Error as exc:
            log.warning("sweeping staged uploads failed: %s", exc.error_code)
        await asyncio.sleep(3600)


def _approvals(
    settings: Settings,
    store: Upstream,
    policies: PolicyStore,
    masking: MaskingService,
    audit: AuditLog | None,
) -> ApprovalService | None:
    conf = settings.approvals
    if not conf.enabled:
        return None
    notifier = None
    if conf.webhook_url is not None:
        notifier = Notifier(
            WebhookSettings(
                conf.webhook_url, conf.webhook_attempts, conf.webhook_first_delay_seconds
            )
        )
    return ApprovalService(
        HoldStore(store, *approval_keys(settings.identity)),
        policies,
        masking,
        audit,
        replica_id(settings.audit),
        notifier,
    )


def _web_pages(
    settings: Settings,
    approvals: ApprovalService | None,
    sts: StsService | None,
    audit: AuditLog | None,
) -> WebPages | None:
    """The approvals web page, when `approvals.web_*` configure it."""
    conf = settings.approvals
    if approvals is None or not conf.web_enabled:
        return None
    try:
        # The STS validator's key cache, when there is one: one JWKS fetch
        # schedule per issuer, whichever door the token came through.
        signin = SignIn(conf, settings.identity, sts.validator.keys if sts is not None else None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return WebPages(
        conf,
        approvals,
        signin,
        CookieSealer(*approval_web_keys(settings.identity)),
        (lambda: sts.roles) if sts is not None else (lambda: None),
        audit,
    )


async def _sweep_holds(approvals: ApprovalService, every: float) -> None:
    """Expire overdue holds, resume releases a dead replica left."""
    while True:
        await asyncio.sleep(every)
        try:
            expired = await approvals.sweep()
            if expired:
                log.info("expired %d held writes", expired)
        except errors.S3Error as exc:
            log.warning("sweeping held writes failed: %s", exc.error_code)
