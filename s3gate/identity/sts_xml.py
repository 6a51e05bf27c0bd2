"""STS XML documents (query protocol, API version 2011-06-15).

The shapes are the ones botocore's query parser reads for the `sts` service
model; tests parse these documents back with botocore to prove it.
"""

from __future__ import annotations

from s3gate.identity.sts import AssumeRoleResult
from s3gate.identity.sts_errors import StsError
from s3gate.s3.dates import format_iso8601
from s3gate.xmltext import escape

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _el(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def assume_role_with_web_identity(result: AssumeRoleResult, request_id: str) -> bytes:
    creds = result.credentials
    return (
        HEAD
        + f'<AssumeRoleWithWebIdentityResponse xmlns="{NS}">'
        + "<AssumeRoleWithWebIdentityResult>"
        + "<Credentials>"
        + _el("AccessKeyId", creds.access_key_id)
        + _el("SecretAccessKey", creds.secret_access_key)
        + _el("SessionToken", creds.session_token)
        + _el("Expiration", format_iso8601(creds.expiration))
        + "</Credentials>"
        + _el("SubjectFromWebIdentityToken", result.subject_from_token)
        + "<AssumedRoleUser>"
        + _el("AssumedRoleId", result.assumed_role_id)
        + _el("Arn", result.assumed_role_arn)
        + "</AssumedRoleUser>"
        + _el("Audience", result.audience)
        + _el("Provider", result.provider)
        + "</AssumeRoleWithWebIdentityResult>"
        + f"<ResponseMetadata>{_el('RequestId', request_id)}</ResponseMetadata>"
        + "</AssumeRoleWithWebIdentityResponse>"
    ).encode()


def error(exc: StsError, request_id: str) -> bytes:
    return (
        HEAD
        + f'<ErrorResponse xmlns="{NS}">'
        + "<Error>"
        + _el("Type", exc.fault)
        + _el("Code", exc.code)
        + _el("Message", exc.message)
        + "</Error>"
        + _el("RequestId", request_id)
        + "</ErrorResponse>"
    ).encode()
