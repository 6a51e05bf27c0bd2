"""The life of the process's boxes: the start (buckets, the audit bucket's
check, workers, watchers), the background work while it runs (sweeps,
warm-ups, the audit of policy reloads), the readiness check, the stop.

`assembly.py` builds the boxes; this module only runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette

from s3gate import errors
from s3gate.approvals.service import ApprovalService
from s3gate.assembly import Boxes
from s3gate.audit.write.builders import policy_bundle
from s3gate.audit.write.log import AuditLog
from s3gate.config import ConfigError, Settings
from s3gate.masking.profiles import PART as MASKING_PART
from s3gate.masking.service import MaskingService
from s3gate.policy.store import PolicyStore, ReloadOutcome
from s3gate.status import Readiness
from s3gate.transform.profile import MaskingProfiles
from s3gate.upstream.base import Upstream

log = logging.getLogger("s3gate")


def readiness_check(settings: Settings, boxes: Boxes) -> Callable[[], Awaitable[Readiness]]:
    """The readiness of the boxes, asked afresh at each call."""
    store, policies, masking, audit = boxes.store, boxes.policies, boxes.masking, boxes.audit

    async def readiness() -> Readiness:
        body: dict[str, object] = {"policy": policies.status(), "masking": masking.status()}
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

    return readiness


def lifespan_of(
    settings: Settings, boxes: Boxes
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Starlette's lifespan: start every box, run the background work, stop
    them in the reverse order."""
    store, policies, masking, audit = boxes.store, boxes.policies, boxes.masking, boxes.audit
    approvals, web, sts = boxes.approvals, boxes.web, boxes.sts

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

    return lifespan


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
