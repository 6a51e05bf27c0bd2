"""STS and session helpers for the end-to-end identity and policy tests.

Configuration for a gateway with STS on (session keys, issuers, roles), the
exchange of a web identity token for session credentials over the wire
(botocore's STS client, or a hand-made form POST), S3 clients and CLI
environments with those credentials, and the gateway's access log.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import urllib3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.harness import POLICIES, REGION, Gateway

ACCOUNT = "000000000000"
WRITER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/trace-writer"
ANALYST_ROLE = f"arn:aws:iam::{ACCOUNT}:role/analyst"
AUDITOR_ROLE = f"arn:aws:iam::{ACCOUNT}:role/auditor"
REPO_ROLES = POLICIES / "roles.yaml"

_http = urllib3.PoolManager()


# ---- configuration -------------------------------------------------------


def new_session_keys(*ids: str) -> dict[str, str]:
    """Session keys as the configuration takes them: id → base64 of 32 bytes."""
    return {i: base64.b64encode(secrets.token_bytes(32)).decode() for i in ids}


def key_bytes(keys: Mapping[str, str]) -> dict[str, bytes]:
    return {i: base64.b64decode(v) for i, v in keys.items()}


def identity_section(
    issuers: Sequence[Mapping[str, Any]],
    keys: Mapping[str, str],
    active: str,
    roles_file: Path = REPO_ROLES,
    **extra: Any,
) -> dict[str, Any]:
    section: dict[str, Any] = {
        "issuers": [dict(i) for i in issuers],
        "session_keys": [{"id": i, "secret": {"value": v}} for i, v in keys.items()],
        "active_session_key": active,
        "roles_file": str(roles_file),
    }
    section.update(extra)
    return section


# ---- the exchange --------------------------------------------------------


@dataclass(frozen=True)
class SessionCreds:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


def sts_client(endpoint: str) -> Any:
    """STS as botocore's web-identity provider builds it: unsigned, and here
    without retries so that each call is one request."""
    return boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="unused",
        aws_secret_access_key="unused",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def assume_response(
    endpoint: str,
    role_arn: str,
    token: str,
    session_name: str = "e2e-session",
    duration: int | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "RoleArn": role_arn,
        "RoleSessionName": session_name,
        "WebIdentityToken": token,
    }
    if duration is not None:
        params["DurationSeconds"] = duration
    response: dict[str, Any] = sts_client(endpoint).assume_role_with_web_identity(**params)
    return response


def assume(
    endpoint: str,
    role_arn: str,
    token: str,
    session_name: str = "e2e-session",
    duration: int | None = None,
) -> SessionCreds:
    creds = assume_response(endpoint, role_arn, token, session_name, duration)["Credentials"]
    return SessionCreds(
        creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], creds["Expiration"]
    )


@dataclass(frozen=True)
class StsFailure:
    status: int
    code: str
    message: str


def sts_failure(
    endpoint: str,
    role_arn: str,
    token: str,
    session_name: str = "e2e-session",
    duration: int | None = None,
) -> StsFailure:
    """The error an exchange answers (fails the test if it succeeds)."""
    try:
        assume_response(endpoint, role_arn, token, session_name, duration)
    except ClientError as exc:
        err = exc.response["Error"]
        return StsFailure(
            exc.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err["Message"]
        )
    raise AssertionError("the exchange succeeded")


def raw_sts(endpoint: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    """A form POST to the root, as any STS client sends it: (status, code,
    message), code and message empty on success."""
    form = {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", **params}
    resp = _http.request(
        "POST",
        endpoint + "/",
        body=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        retries=False,
        timeout=30,
    )
    text = resp.data.decode()
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    return resp.status, code.group(1) if code else "", message.group(1) if message else ""


# ---- using the credentials ----------------------------------------------


def s3_client(endpoint: str, creds: SessionCreds, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )


def clean_env(home: Path) -> dict[str, str]:
    """The process environment without any AWS setting, with its own HOME so
    that nothing of the user's `~/.aws` (or the CLI's cache) takes part."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    return env


def session_env(endpoint: str, creds: SessionCreds, home: Path) -> dict[str, str]:
    """Environment for the aws CLI with session credentials."""
    env = clean_env(home)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_SESSION_TOKEN": creds.session_token,
        }
    )
    return env


def error_code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


# ---- the gateway's access log ---------------------------------------------


def access_log(gw: Gateway) -> list[dict[str, Any]]:
    """The gateway's JSON access-log lines, oldest first."""
    out = []
    for line in gw.log().splitlines():
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and "request_id" in entry:
                out.append(entry)
    return out


# ---- buckets in the upstream store -----------------------------------------


def empty_bucket(direct: Any, name: str) -> None:
    for page in direct.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            direct.delete_object(Bucket=name, Key=obj["Key"])
    for up in direct.list_multipart_uploads(Bucket=name).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])


class StoreSeed:
    """Objects and uploads put straight into the store for a test module.

    Buckets such as `traces` and `audit` are shared by every module of the
    session (and the gateways' own audit trail lives in `audit`), so a bucket
    that already exists is left as found, apart from what was seeded here;
    only buckets created here are emptied and deleted afterwards."""

    def __init__(self, direct: Any) -> None:
        self.direct = direct
        self.created: list[str] = []
        self.keys: list[tuple[str, str]] = []
        self.uploads: list[tuple[str, str, str]] = []

    def bucket(self, name: str) -> None:
        # Ask first: in us-east-1 re-creating a bucket you own answers 200 (AWS
        # and moto), which would make a shared bucket look like ours to delete.
        try:
            self.direct.head_bucket(Bucket=name)
            return
        except ClientError:
            pass
        try:
            self.direct.create_bucket(Bucket=name)
        except ClientError as exc:
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        else:
            self.created.append(name)

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.direct.put_object(Bucket=bucket, Key=key, Body=body)
        self.keys.append((bucket, key))

    def upload(self, bucket: str, key: str, part: bytes) -> str:
        """A multipart upload with one part, left open."""
        upload_id: str = self.direct.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self.direct.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=part)
        self.uploads.append((bucket, key, upload_id))
        return upload_id

    def clean(self) -> None:
        for bucket, key, upload_id in self.uploads:
            if bucket not in self.created:
                try:
                    self.direct.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
                except ClientError as exc:
                    if error_code(exc) != "NoSuchUpload":
                        raise
        for bucket, key in self.keys:
            if bucket not in self.created:
                self.direct.delete_object(Bucket=bucket, Key=key)
        for bucket in self.created:
            empty_bucket(self.direct, bucket)
            self.direct.delete_bucket(Bucket=bucket)


@contextmanager
def store_seed(direct: Any, *buckets: str) -> Iterator[StoreSeed]:
    seed = StoreSeed(direct)
    try:
        for name in buckets:
            seed.bucket(name)
        yield seed
    finally:
        seed.clean()
