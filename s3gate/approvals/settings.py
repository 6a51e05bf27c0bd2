"""Settings of the approval workflow (`approvals:` in the YAML file). The
rules themselves are policy (`policies/approvals.yaml`), not configuration."""

from __future__ import annotations

from pydantic import Field

from s3gate.configbase import Section


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
