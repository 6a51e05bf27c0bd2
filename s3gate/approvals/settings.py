"""Settings of the approval workflow (`approvals:` in the YAML file). The
rules themselves are policy (`policies/approvals.yaml`), not configuration."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, model_validator

from s3gate.configbase import Secret, Section

WEB_CALLBACK_PATH = "/_s3gate/approvals/callback"


class ApprovalSettings(Section):
    # Off: `hold` rules and `@approval` policies refuse (403) as before.
    enabled: bool = True
    # How often each replica expires overdue holds and resumes releases a
    # dead replica left (every replica may; the state swaps keep it safe).
    sweep_seconds: float = Field(default=60.0, gt=0)
    # Webhook receiving a JSON message per created/approved/denied/expired hold
    # (Slack incoming-webhook compatible `text` plus structured fields).
    webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    webhook_attempts: int = Field(default=5, ge=1, le=20)
    webhook_first_delay_seconds: float = Field(default=0.5, gt=0)
    # The web page (approvers/web/): on when an issuer, a client id and a
    # redirect URL are given. The issuer is the `name` of an identity.issuers
    # entry: its ID tokens are checked exactly as web identity tokens are,
    # with the client id as the only audience.
    web_issuer: str | None = None
    web_client_id: str | None = Field(default=None, min_length=1, max_length=256)
    web_client_secret: Secret | None = None  # confidential clients; public (PKCE only) without
    web_redirect_url: str | None = Field(default=None, pattern=r"^https?://")
    # Default: the issuer's discovery document says.
    web_authorization_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    web_token_endpoint: str | None = Field(default=None, pattern=r"^https?://")
    web_scopes: tuple[str, ...] = ("openid", "profile", "groups")
    # A short session: an approver signs in again after this.
    web_session_seconds: int = Field(default=900, ge=60, le=28800)
    # Time allowed between leaving for the issuer and coming back.
    web_login_seconds: int = Field(default=300, ge=30, le=3600)

    @property
    def web_enabled(self) -> bool:
        return self.web_client_id is not None

    @property
    def web_origin(self) -> str:
        """scheme://host[:port] of the page, the only Origin accepted on POSTs."""
        parts = urlsplit(self.web_redirect_url or "")
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def _web_complete(self) -> ApprovalSettings:
        given = [self.web_issuer, self.web_client_id, self.web_redirect_url]
        if any(v is not None for v in given) and not all(v is not None for v in given):
            raise ValueError(
                "the approvals web page needs web_issuer, web_client_id and web_redirect_url"
            )
        if self.web_redirect_url is not None:
            parts = urlsplit(self.web_redirect_url)
            if parts.path != WEB_CALLBACK_PATH or parts.query or parts.fragment:
                raise ValueError(f"web_redirect_url must end in {WEB_CALLBACK_PATH}, no query")
        if self.web_enabled and "openid" not in self.web_scopes:
            raise ValueError("web_scopes must include openid")
        return self
