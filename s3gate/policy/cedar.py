"""A loaded policy bundle and the decisions it makes.

Default deny, `forbid` beats `permit` (Cedar semantics), built-in guards before
any policy. Fail closed: a request Cedar cannot fully evaluate (a policy that
errors, a request that does not match the schema) is denied, because Cedar
skips a policy that errors, and a skipped `forbid` would otherwise let the
request through.

A bundle's policies never change once loaded. A request takes one bundle
(`PolicyStore.current()`) and makes all its decisions with it, so it never
sees a mix of two bundles.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import cedarpy

from s3gate.policy import entities as ent
from s3gate.policy import obligations as obl
from s3gate.policy.decision import Basis, Decision
from s3gate.policy.guards import Guards
from s3gate.policy.model import AccessRequest
from s3gate.policy.projection import Projection
from s3gate.policy.source import PolicyInfo

log = logging.getLogger("s3gate.policy")

_ERROR_POLICY = re.compile(r"policy `([^`]+)`")
# Cedar's messages may quote whole entities (claims included): keep them short
# in reasons, which end up in logs and audit events.
_MAX_ERROR_CHARS = 200


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "…"


@dataclass(frozen=True)
class _Pending:
    index: int
    request: AccessRequest
    key: Hashable
    context: dict[str, Any]
    entity: dict[str, Any]


def _for_resource(decision: Decision, resource: str) -> Decision:
    """The same decision for another member of its group (faster than
    `dataclasses.replace`, which matters for a 1000-key page)."""
    d = decision
    return Decision(
        d.allowed, d.policies, d.obligations, d.bundle_hash, d.reason, d.action, resource, d.basis
    )


class Bundle:
    def __init__(
        self,
        *,
        bundle_hash: str,
        loaded_at: datetime,
        directory: Path,
        files: Mapping[str, bytes],
        policies: Mapping[str, PolicyInfo],
        policy_set: cedarpy.PolicySet,
        schema: cedarpy.Schema,
        guards: Guards,
        projection: Projection,
        extras: Mapping[str, object],
        cache_size: int = 4096,
    ) -> None:
        self.hash = bundle_hash
        self.loaded_at = loaded_at
        self.directory = directory
        self.files = files  # the exact bytes that were hashed and parsed
        self.policies = policies  # id → info, in bundle order
        self.guards = guards
        self.projection = projection
        self.extras = extras  # results of the bundle parts (e.g. masking profiles)
        self._policy_set = policy_set
        self._schema = schema
        self._cache_size = cache_size
        self._cache: dict[Hashable, Decision] = {}

    def decide(self, request: AccessRequest) -> Decision:
        return self.decide_many([request])[0]

    def decide_many(self, requests: Sequence[AccessRequest]) -> list[Decision]:
        """Decisions for many requests, in order.

        Requests that agree on everything the policies can observe (see
        `projection.py`) get the same decision: each such group is evaluated
        once, and remembered for this bundle's lifetime (bounded), so a
        listing page or a principal's stream of GETs costs few evaluations.
        """
        out: list[Decision | None] = [None] * len(requests)
        groups: dict[Hashable, list[int]] = {}
        misses: dict[Hashable, list[_Pending]] = {}  # principal key → representatives
        principals: dict[int, Hashable] = {}
        contexts: dict[int, tuple[dict[str, Any], Hashable]] = {}
        for i, request in enumerate(requests):
            res = request.resource
            denial = self.guards.check(request.action, res)
            if denial is not None:
                out[i] = self._decision(
                    request, False, (denial.guard,), obl.NONE, denial.reason, "guard"
                )
                continue
            pkey = principals.get(id(request.principal))
            if pkey is None:
                pkey = principals[id(request.principal)] = ent.principal_key(request.principal)
            ctx = contexts.get(id(request.context))
            if ctx is None:
                record = ent.context_record(request.context)
                ctx = contexts[id(request.context)] = (record, self.projection.context_key(record))
            attrs = ent.resource_attrs(res)
            rkey = self.projection.resource_key(res.kind, res.bucket, res.uid, attrs)
            key = (pkey, request.action, rkey, ctx[1])
            known = self._cache.get(key)
            if known is not None:
                out[i] = _for_resource(known, str(res))
            elif key in groups:
                groups[key].append(i)
            else:
                groups[key] = [i]
                entity = ent.resource_entity(res, attrs)
                misses.setdefault(pkey, []).append(_Pending(i, request, key, ctx[0], entity))
        for reps in misses.values():
            for rep, (decision, clean) in zip(reps, self._evaluate(reps), strict=True):
                out[rep.index] = decision
                if clean:  # an evaluation error may depend on more than the key
                    self._remember(rep.key, decision)
        for members in groups.values():
            first = out[members[0]]
            assert first is not None
            for i in members[1:]:
                out[i] = _for_resource(first, str(requests[i].resource))
        assert all(d is not None for d in out)
        return [d for d in out if d is not None]

    def clear_cache(self) -> None:
        """Forget remembered decisions (for measurements and tests)."""
        self._cache.clear()

    def _remember(self, key: Hashable, decision: Decision) -> None:
        if self._cache_size <= 0:
            return
        if len(self._cache) >= self._cache_size:
            # Dropping everything is crude but needs no lock: single dict
            # operations are atomic, and a lost entry only costs a re-evaluation.
            self._cache.clear()
        self._cache[key] = decision

    def _evaluate(self, reps: list[_Pending]) -> list[tuple[Decision, bool]]:
        """One Cedar batch for representatives that share a principal."""
        principal = reps[0].request.principal
        unique = {(r.entity["uid"]["type"], r.entity["uid"]["id"]): r.entity for r in reps}
        entities = json.dumps([ent.principal_entity(principal), *unique.values()])
        principal_uid = ent.principal_uid(principal)
        contexts: dict[int, str] = {}
        cedar_requests = []
        for r in reps:
            context = contexts.get(id(r.context))
            if context is None:
                context = contexts[id(r.context)] = json.dumps(r.context)
            cedar_requests.append(
                {
                    "principal": principal_uid,
                    "action": ent.action_uid(r.request.action),
                    "resource": r.entity["uid"],
                    "context": context,
                }
            )
        try:
            results = cedarpy.is_authorized_batch(
                cedar_requests, self._policy_set, entities, schema=self._schema
            )
        except ValueError as exc:  # malformed input: deny, never guess
            reason = f"policy evaluation failed: {_short(str(exc))}"
            log.error(reason)
            return [
                (self._decision(r.request, False, (), obl.NONE, reason, "error"), False)
                for r in reps
            ]
        return [
            (self._from_cedar(r.request, res), not res.diagnostics.errors)
            for r, res in zip(reps, results, strict=True)
        ]

    def _from_cedar(self, request: AccessRequest, result: cedarpy.AuthzResult) -> Decision:
        errors = list(result.diagnostics.errors)
        if errors:
            named = self._ordered(p for e in errors for p in _ERROR_POLICY.findall(e))
            shown = "; ".join(_short(e) for e in errors[:3])
            reason = f"denied: the request could not be fully evaluated: {shown}"
            return self._decision(request, False, named, obl.NONE, reason, "error")
        ids = self._ordered(result.diagnostics.reasons)
        if result.decision == cedarpy.Decision.Allow:
            found = obl.from_annotations(self.policies[p].annotations for p in ids)
            reason = "permitted by " + ", ".join(ids)
            return self._decision(request, True, ids, found, reason, "permit")
        if ids:
            reason = "forbidden by " + ", ".join(ids)
            return self._decision(request, False, ids, obl.NONE, reason, "forbid")
        reason = "no policy permits this (default deny)"
        return self._decision(request, False, (), obl.NONE, reason, "default-deny")

    def _ordered(self, ids: Any) -> tuple[str, ...]:
        unique = dict.fromkeys(str(i) for i in ids)
        known = [i for i in unique if i in self.policies]
        known.sort(key=lambda i: self.policies[i].order)
        return (*known, *(i for i in unique if i not in self.policies))

    def _decision(
        self,
        request: AccessRequest,
        allowed: bool,
        policies: tuple[str, ...],
        obligations: obl.Obligations,
        reason: str,
        basis: Basis,
    ) -> Decision:
        return Decision(
            allowed=allowed,
            policies=policies,
            obligations=obligations,
            bundle_hash=self.hash,
            reason=reason,
            action=request.action,
            resource=str(request.resource),
            basis=basis,
        )

    def describe(self) -> dict[str, object]:
        return {
            "bundle_hash": self.hash,
            "loaded_at": self.loaded_at.isoformat(),
            "directory": str(self.directory),
            "policies": len(self.policies),
            "files": sorted(self.files),
        }
