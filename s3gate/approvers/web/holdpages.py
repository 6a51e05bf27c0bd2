"""The pages of holds and grants: the pending list, a hold's detail, the
approve / deny / revoke forms, the break-glass request. Each action is the
`ApprovalService`'s, for the signed-in session as a `Principal`."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from types import MappingProxyType

from starlette.requests import Request
from starlette.responses import Response

from s3gate import errors
from s3gate.approvals.rules import parse_duration
from s3gate.approvals.service import ApprovalService
from s3gate.approvers.web import render
from s3gate.approvers.web.browser import Frame
from s3gate.approvers.web.cookies import WebSession
from s3gate.identity.principal import Principal
from s3gate.identity.roles import RoleBook

# What an approval led to, by the hold's state after it; any other state
# (denied or expired at release) is reported as a refusal.
APPROVED = MappingProxyType(
    {
        "released": "Approved: released into its key.",
        "granted": "Approved: the read grant is in force.",
        "pending": "Approved: vote recorded ({votes} valid); still pending.",
        "releasing": "Approved: another replica is releasing it.",
    }
)


class HoldPages:
    def __init__(
        self,
        service: ApprovalService,
        frame: Frame,
        roles: Callable[[], RoleBook | None],
        clock: Callable[[], float],
    ) -> None:
        self.service = service
        self.frame = frame
        self.roles = roles
        self.clock = clock

    def principal(self, session: WebSession, role: str | None = None) -> Principal:
        arn = None
        if role is not None:
            book = self.roles()
            found = [r for r in (book or ()) if r.name == role]
            arn = found[0].arn if found else None
        return Principal(
            subject=session.subject,
            access_key_id=f"web-{session.sid}",
            source="session",
            groups=session.groups,
            issuer=session.issuer,
            role=role,
            role_arn=arn,
            claims=MappingProxyType(dict(session.claims)),
            expires=datetime.fromtimestamp(session.expires, UTC),
        )

    async def home(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession) -> Response:
            holds = await self.service.list_for(self.principal(session))
            return render.page("list.html", session=session, holds=holds, now=self.clock())

        return await self.frame.get(request, act)

    async def detail(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession) -> Response:
            hold_id = request.path_params["hold_id"]
            view = await self.service.show(hold_id, self.principal(session))
            return render.page("detail.html", session=session, view=view, now=self.clock())

        return await self.frame.get(request, act)

    async def approve(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            hold_id = request.path_params["hold_id"]
            view = await self.service.approve(
                hold_id,
                self.principal(session),
                form.get("reason", ""),
                form.get("sha256", ""),
                form.get("bundle_hash", ""),
            )
            status = view.state.status
            done = APPROVED.get(status)
            if done is not None:
                text = done.format(votes=view.valid_votes)
                return self.frame.done(session, "Approved", text, hold_id)
            # The vote counted but the gateway refused the release at the last
            # step (the policy or bytes of the moment): say so, never "released".
            return self.frame.message(
                session,
                errors.HoldChanged(
                    f"Your approval was recorded, but the hold ended {status}: "
                    f"{view.state.reason}. The quarantined bytes are destroyed."
                ),
            )

        return await self.frame.post(request, act)

    async def deny(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            hold_id = request.path_params["hold_id"]
            await self.service.deny(hold_id, self.principal(session), form.get("reason", ""))
            return self.frame.done(
                session, "Denied", "Denied: the quarantined bytes are destroyed.", None
            )

        return await self.frame.post(request, act)

    async def revoke(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            hold_id = request.path_params["hold_id"]
            role = form.get("role") or None
            if role is not None and role not in session.roles:
                raise errors.ApprovalNotAllowed("You may not act in that role")
            await self.service.revoke(
                hold_id, self.principal(session, role), form.get("reason", "")
            )
            return self.frame.done(
                session, "Revoked", "Revoked: the grant reads nothing more.", None
            )

        return await self.frame.post(request, act)

    async def request_form(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession) -> Response:
            return render.page("request.html", session=session)

        return await self.frame.get(request, act)

    async def request_grant(self, request: Request) -> Response:
        async def act(request: Request, session: WebSession, form: dict[str, str]) -> Response:
            role = form.get("role", "")
            if role not in session.roles:
                raise errors.ApprovalNotAllowed(
                    "Your identity is not trusted for that role (policies/roles.yaml)"
                )
            try:
                seconds = parse_duration(form.get("duration", ""), "duration")
            except ValueError as exc:
                raise errors.InvalidArgument(str(exc)) from None
            view = await self.service.request_grant(
                self.principal(session, role),
                role=role,
                bucket=form.get("bucket", ""),
                prefix=form.get("prefix", ""),
                reason=form.get("reason", ""),
                duration_seconds=seconds,
                request_id=secrets.token_hex(8).upper(),
            )
            waits = ", ".join(f"{r.name} ({r.required})" for r in view.rules)
            return self.frame.done(
                session,
                "Requested",
                f"Requested: waiting for {waits}. Read it with a session of role {role}.",
                view.request.hold_id,
            )

        return await self.frame.post(request, act)
