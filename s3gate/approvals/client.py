"""The approver's side of the admin API: SigV4-signed JSON over HTTP.

Credentials come from botocore's usual chain (AWS_ACCESS_KEY_ID…, a profile,
or AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through the gateway's STS), so
an approver signs in exactly as for S3; the gateway takes identity and groups
from that signature, never from anything the client claims.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import botocore.session
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError

API = "/_s3gate/approvals/api"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ApprovalsClient:
    endpoint: str
    region: str = "us-east-1"
    ca_bundle: str | None = None
    timeout: float = 30.0

    def list(self) -> list[dict[str, Any]]:
        holds: list[dict[str, Any]] = self._call("GET", "/holds")["holds"]
        return holds

    def show(self, hold_id: str) -> dict[str, Any]:
        return self._call("GET", f"/holds/{quote(hold_id, safe='')}")

    def approve(self, hold_id: str, reason: str, sha256: str, bundle_hash: str) -> dict[str, Any]:
        body = {"reason": reason, "sha256": sha256, "bundle_hash": bundle_hash}
        return self._call("POST", f"/holds/{quote(hold_id, safe='')}/approve", body)

    def deny(self, hold_id: str, reason: str) -> dict[str, Any]:
        return self._call("POST", f"/holds/{quote(hold_id, safe='')}/deny", {"reason": reason})

    def revoke(self, hold_id: str, reason: str) -> dict[str, Any]:
        return self._call("POST", f"/holds/{quote(hold_id, safe='')}/revoke", {"reason": reason})

    def request(
        self, role: str, bucket: str, prefix: str, reason: str, duration_seconds: int
    ) -> dict[str, Any]:
        body = {
            "role": role,
            "bucket": bucket,
            "prefix": prefix,
            "reason": reason,
            "duration_seconds": duration_seconds,
        }
        return self._call("POST", "/grants", body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        session = botocore.session.get_session()
        if self.region:
            session.set_config_variable("region", self.region)
        credentials = session.get_credentials()  # a session token is signed along
        if credentials is None:
            raise ApiError(0, "NoCredentials", "no AWS credentials found for the approver")
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"content-type": "application/json"} if body is not None else {}
        request = AWSRequest(
            method=method, url=self.endpoint.rstrip("/") + API + path, data=data, headers=headers
        )
        S3SigV4Auth(_frozen(credentials), "s3", self.region).add_auth(request)
        http = (
            urllib3.PoolManager(ca_certs=self.ca_bundle)
            if self.ca_bundle
            else urllib3.PoolManager()
        )
        try:
            resp = http.request(
                method,
                request.url,
                body=data or None,
                headers=dict(request.headers.items()),
                timeout=self.timeout,
                retries=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            # A gateway that is not running is a message, not a traceback.
            raise ApiError(
                0, "Unreachable", f"cannot reach the gateway at {self.endpoint} ({exc})"
            ) from None
        try:
            payload = json.loads(resp.data or b"{}")
        except ValueError:
            payload = {}
        if resp.status >= 300 or not isinstance(payload, dict):
            raise ApiError(
                resp.status,
                str(payload.get("error", "Error")) if isinstance(payload, dict) else "Error",
                str(payload.get("message", resp.data[:200])) if isinstance(payload, dict) else "",
            )
        return payload


def _frozen(credentials: Any) -> Any:
    """Resolve the approver's credentials; a refusal (an STS exchange the
    gateway turns down: wrong role, expired token) becomes an ApiError so the
    CLI prints its code and message instead of a traceback."""
    try:
        return credentials.get_frozen_credentials()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "CredentialsError")
        raise ApiError(
            0, code, f"the approver's credentials were refused: {err.get('Message', '')}"
        ) from None
    except BotoCoreError as exc:
        raise ApiError(
            0, "CredentialsError", f"the approver's credentials could not be resolved: {exc}"
        ) from None
