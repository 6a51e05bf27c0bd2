"""The boxes of one gateway process, built from the frozen settings.

`app.py` mounts them as routes and `lifecycle.py` starts and stops them;
this module only builds them, in the order their dependencies need (the web
page wants STS's key cache, the gateway wants every other box).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from s3gate.accesslog import AccessLog
from s3gate.approvals.keys import approval_keys, approval_web_keys
from s3gate.approvals.notify import Notifier, WebhookSettings
from s3gate.approvals.rules import ApprovalsPart
from s3gate.approvals.service import ApprovalService
from s3gate.approvals.store import HoldStore
from s3gate.approvers.web.cookies import CookieSealer
from s3gate.approvers.web.pages import WebPages
from s3gate.approvers.web.signin import SignIn
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
from s3gate.masking.profiles import MaskingPart
from s3gate.masking.service import MaskingService
from s3gate.metrics import Metrics
from s3gate.policy.loader import BundlePart
from s3gate.policy.rolespart import PART as ROLES
from s3gate.policy.rolespart import RolesPart
from s3gate.policy.store import PolicyStore, ReloadOutcome
from s3gate.s3.listtokens import ListTokens
from s3gate.upstream import build_upstream
from s3gate.upstream.base import Upstream


@dataclass(frozen=True)
class Boxes:
    """Every long-lived object of the process; None where settings leave a
    box out (no session keys: no STS; audit, metrics, approvals, the web
    page off)."""

    store: Upstream
    policies: PolicyStore
    sts: StsService | None
    audit: AuditLog | None
    masking: MaskingService
    metrics: Metrics | None
    approvals: ApprovalService | None
    web: WebPages | None
    gateway: Gateway


def assemble(
    settings: Settings,
    upstream: Upstream | None = None,
    refusals: Mapping[str, int] | None = None,
) -> Boxes:
    """The boxes; `refusals` are the HTTP protocol's refusal counts
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
        metrics.watch_masking(masking.status)
    access_log = AccessLog(settings.server.access_log, metrics)
    approvals = _approvals(settings, store, policies, masking, audit)
    web = _web_pages(settings, approvals, sts, audit, access_log)
    gateway = Gateway(
        settings,
        store,
        CredentialResolver(StaticKeys(settings.static_keys), sealer),
        policies,
        ListTokens.from_ring(shared_keys(settings.identity, LIST_TOKENS)),
        masking,
        access_log,
        sts=sts,
        audit=audit,
        approvals=approvals,
    )
    return Boxes(store, policies, sts, audit, masking, metrics, approvals, web, gateway)


def _follow_roles(policies: PolicyStore, sts: StsService) -> None:
    """STS uses the roles of the bundle in force: swapped with each reload."""

    def on_reload(outcome: ReloadOutcome) -> None:
        roles = policies.current().extras.get(ROLES)
        if outcome.status == "loaded" and isinstance(roles, RoleBook):
            sts.replace_roles(roles)

    policies.subscribe(on_reload)


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
    access_log: AccessLog,
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
        access_log=access_log,
    )
