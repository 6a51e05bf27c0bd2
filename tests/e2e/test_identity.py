"""Web identities to session credentials, end to end over real HTTP.

A test OIDC issuer (discovery + JWKS on a loopback port, keys made here), the
gateway as its own process with STS on, and the clients people use: the
unmodified boto3 web-identity provider (in a subprocess, configured by
environment variables only), `aws sts assume-role-with-web-identity`, an
`aws` CLI profile with `web_identity_token_file`. Then everything that must
be refused, each with its STS or S3 error code over the wire.

The roles are the repository's `policies/roles.yaml`, except that the copy
used here caps `trace-writer` sessions at 900 seconds: botocore refreshes such
credentials on every call (its advisory window is 15 minutes), which is what
the refresh test counts. Analyst sessions keep the default 3600 seconds.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3
import yaml
from botocore.exceptions import ClientError

from s3gate.identity.sessions import SessionGrant, SessionSealer
from tests.e2e.clients import AWS, run
from tests.e2e.harness import Gateway, start_gateway
from tests.e2e.oidc_issuer import (
    Issuer,
    SigningKey,
    Tarpit,
    b64json,
    forge_hs256,
    forge_none,
    issuer_config,
    make_key,
    sign,
)
from tests.e2e.sts import (
    ANALYST_ROLE,
    REPO_ROLES,
    WRITER_ROLE,
    SessionCreds,
    access_log,
    assume,
    assume_response,
    clean_env,
    error_code,
    identity_section,
    key_bytes,
    new_session_keys,
    raw_sts,
    s3_client,
    store_seed,
    sts_failure,
)

BUCKET = "traces"  # the bucket the example policies are written for
# The session's buckets are shared: this module's objects live under its own
# prefix inside the writer's team prefix.
PREFIX = "alpha/id-5e2a90c1/"  # fixed: test ids carry it (xdist workers collect alike)
SEEDED = PREFIX + "run-1.jsonl"
INVALID_TOKEN_MESSAGE = "The web identity token that was passed could not be validated."


@dataclass
class Setup:
    gw: Gateway
    issuer: Issuer
    keys: dict[str, SigningKey]
    session_keys: dict[str, str]
    identity: dict[str, Any]  # the gateway's `identity` section
    workdir: Path


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, SigningKey]:
    return {
        "k1": make_key("RS256", "k1"),
        "k2": make_key("RS256", "k2"),
        "k3": make_key("ES256", "k3"),
        "rogue": make_key("RS256", "never-published"),
    }


@pytest.fixture(scope="module")
def setup(
    moto_endpoint: str,
    direct: Any,
    signing_keys: dict[str, SigningKey],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    workdir = tmp_path_factory.mktemp("identity")
    issuer = Issuer([signing_keys["k1"]])
    roles = yaml.safe_load(REPO_ROLES.read_text())
    for role in roles["roles"]:
        if role["name"] == "trace-writer":
            role["max_session_seconds"] = 900
    roles_file = workdir / "roles.yaml"
    roles_file.write_text(yaml.safe_dump(roles))
    session_keys = new_session_keys("s-old", "s-new")
    identity = identity_section(
        [issuer_config("dev", issuer.url, selected_claims=["team"])],
        session_keys,
        "s-new",
        roles_file,
        # Every unknown kid refetches here (the rate limit has its own unit
        # tests), so that rotation and "unknown after refetch" are observable.
        jwks_min_refetch_seconds=0,
        http_timeout_seconds=2,
    )
    with store_seed(direct, BUCKET) as seed:
        seed.put(BUCKET, SEEDED, b'{"step": 1}\n')
        gw = start_gateway(
            workdir / "a", moto_endpoint, {"admin": ("admins",)}, extra={"identity": identity}
        )
        try:
            yield Setup(gw, issuer, signing_keys, session_keys, identity, workdir)
        finally:
            gw.stop()
            issuer.stop()


def writer_token(setup: Setup, sub: str = "agent-1", **claims: Any) -> str:
    claims.setdefault("groups", ["trace-writers"])
    claims.setdefault("team", "alpha")
    return setup.issuer.token(sub=sub, **claims)


def analyst_token(setup: Setup, sub: str = "alice", **claims: Any) -> str:
    return setup.issuer.token(sub=sub, groups=["analysts"], **claims)


def list_alpha(client: Any) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]]


def unique_sub(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


# ---- the exchange and its response ----------------------------------------


def test_exchange_returns_sts_shapes_and_working_credentials(setup: Setup) -> None:
    token = writer_token(setup, sub="agent-shape")
    before = time.time()
    response = assume_response(setup.gw.endpoint, WRITER_ROLE, token, "shape-check")
    creds = response["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert creds["SessionToken"].startswith("s3g1.s-new.")
    # The role's maximum (900 s in this test's roles) caps the default 3600 s.
    lifetime = creds["Expiration"].timestamp() - before
    assert 880 <= lifetime <= 905
    assert response["SubjectFromWebIdentityToken"] == "agent-shape"
    assert response["AssumedRoleUser"]["Arn"] == (
        "arn:aws:sts::000000000000:assumed-role/trace-writer/shape-check"
    )
    assert response["AssumedRoleUser"]["AssumedRoleId"].endswith(":shape-check")
    assert response["Audience"] == "s3gate"
    assert response["Provider"] == setup.issuer.url
    session = SessionCreds(
        creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], creds["Expiration"]
    )
    assert list_alpha(s3_client(setup.gw.endpoint, session)) == [SEEDED]


def test_credential_responses_are_not_cacheable(setup: Setup) -> None:
    resp = urllib3.request(
        "POST",
        setup.gw.endpoint + "/",
        body=(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15"
            f"&RoleArn={WRITER_ROLE}&RoleSessionName=nocache"
            f"&WebIdentityToken={writer_token(setup)}"
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        retries=False,
    )
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert b"<SessionToken>s3g1." in resp.data


def test_get_query_form(setup: Setup) -> None:
    query = urlencode(
        {
            "Action": "AssumeRoleWithWebIdentity",
            "Version": "2011-06-15",
            "RoleArn": ANALYST_ROLE,
            "RoleSessionName": "by-get",
            "WebIdentityToken": analyst_token(setup),
        }
    )
    resp = urllib3.request("GET", f"{setup.gw.endpoint}/?{query}", retries=False)
    assert resp.status == 200
    assert b"<Arn>arn:aws:sts::000000000000:assumed-role/analyst/by-get</Arn>" in resp.data
    assert b"<SessionToken>s3g1." in resp.data


# ---- the unmodified boto3 web-identity provider ---------------------------

PROVIDER_SCRIPT = textwrap.dedent(
    """
    import json, sys, boto3
    s3 = boto3.client("s3")  # no endpoint, no keys, no region in code
    prefix = sys.argv[1]
    listed = [
        [o["Key"] for o in s3.list_objects_v2(Bucket="traces", Prefix=prefix)["Contents"]]
        for _ in range(3)
    ]
    method = s3._request_signer._credentials.method
    print(json.dumps({"listed": listed, "method": method}))
    """
)


def run_provider(setup: Setup, role_arn: str, token: str, session_name: str) -> dict[str, Any]:
    token_file = setup.workdir / f"{session_name}.jwt"
    token_file.write_text(token + "\n")  # as `… > file` leaves it
    env = clean_env(setup.workdir)
    del env["AWS_DEFAULT_REGION"]  # what users set: these four, nothing else
    env.update(
        {
            "AWS_ENDPOINT_URL": setup.gw.endpoint,
            "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
            "AWS_ROLE_ARN": role_arn,
            "AWS_ROLE_SESSION_NAME": session_name,
        }
    )
    proc = run([sys.executable, "-c", PROVIDER_SCRIPT, PREFIX], env, timeout=60)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def logged(gw: Gateway, subject: str, operation: str, at_least: int = 1) -> list[dict[str, Any]]:
    """Access-log entries of `subject` for `operation`. Lines are written
    just after each response, so wait (briefly) for `at_least` of them."""
    deadline = time.monotonic() + 5
    while True:
        found = [
            e
            for e in access_log(gw)
            if e.get("principal") == subject and e.get("operation") == operation
        ]
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def s3_entries_of(gw: Gateway, subject: str, at_least: int = 1) -> list[dict[str, Any]]:
    return logged(gw, subject, "ListObjectsV2", at_least)


def exchanges_of(gw: Gateway, subject: str, at_least: int = 1) -> list[dict[str, Any]]:
    return logged(gw, subject, "sts:AssumeRoleWithWebIdentity", at_least)


def test_boto3_provider_refreshes_short_sessions(setup: Setup) -> None:
    subject = unique_sub("agent-refresh")
    result = run_provider(setup, WRITER_ROLE, writer_token(setup, sub=subject), "refresher")
    assert result["method"] == "assume-role-with-web-identity"
    assert result["listed"] == [[SEEDED]] * 3
    calls = s3_entries_of(setup.gw, subject, at_least=3)
    exchanges = exchanges_of(setup.gw, subject, at_least=3)
    assert [c["status"] for c in calls] == [200, 200, 200]
    # 900-second sessions are inside botocore's 15-minute advisory window from
    # the start: every call exchanges the token again, by itself.
    assert len(exchanges) >= 3
    assert all(e["status"] == 200 and e["role"] == "trace-writer" for e in exchanges)
    issued = {e["session_access_key_id"] for e in exchanges}
    used = [c["access_key_id"] for c in calls]
    assert set(used) <= issued
    assert len(set(used)) == 3  # each call signed with fresh credentials


def test_boto3_provider_keeps_long_sessions(setup: Setup) -> None:
    subject = unique_sub("alice-long")
    result = run_provider(setup, ANALYST_ROLE, analyst_token(setup, sub=subject), "keeper")
    assert result["method"] == "assume-role-with-web-identity"
    assert result["listed"] == [[SEEDED]] * 3
    calls = s3_entries_of(setup.gw, subject, at_least=3)
    exchanges = exchanges_of(setup.gw, subject)
    assert len(exchanges) == 1  # 3600 s: no refresh
    assert [c["access_key_id"] for c in calls] == [exchanges[0]["session_access_key_id"]] * 3


# ---- the aws CLI ------------------------------------------------------------


def test_cli_assume_role_with_web_identity(setup: Setup) -> None:
    token = writer_token(setup, sub="agent-cli")
    proc = run(
        [
            AWS,
            "sts",
            "assume-role-with-web-identity",
            "--endpoint-url",
            setup.gw.endpoint,
            "--role-arn",
            WRITER_ROLE,
            "--role-session-name",
            "cli-session",
            "--web-identity-token",
            token,
            "--output",
            "json",
        ],
        clean_env(setup.workdir),
        timeout=60,
    )
    out = json.loads(proc.stdout)
    assert out["SubjectFromWebIdentityToken"] == "agent-cli"
    assert out["AssumedRoleUser"]["Arn"].endswith(":assumed-role/trace-writer/cli-session")
    creds = out["Credentials"]
    session = SessionCreds(
        creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], creds["Expiration"]
    )
    assert list_alpha(s3_client(setup.gw.endpoint, session)) == [SEEDED]


LIST_CMD = [AWS, "s3api", "list-objects-v2"]


def test_cli_web_identity_profile(setup: Setup) -> None:
    subject = unique_sub("alice-cli")
    token_file = setup.workdir / "alice-cli.jwt"
    token_file.write_text(analyst_token(setup, sub=subject))
    config = setup.workdir / "aws-config"
    config.write_text(
        "[profile analyst]\n"
        f"role_arn = {ANALYST_ROLE}\n"
        f"web_identity_token_file = {token_file}\n"
        "role_session_name = alice-cli\n"
        f"endpoint_url = {setup.gw.endpoint}\n"
        "region = us-east-1\n"
    )
    env = clean_env(setup.workdir / "cli-home")
    env["AWS_CONFIG_FILE"] = str(config)
    ls = run([AWS, "s3", "ls", f"s3://{BUCKET}/{PREFIX}", "--profile", "analyst"], env, timeout=60)
    assert "run-1.jsonl" in ls.stdout
    api = run(
        [*LIST_CMD, "--bucket", BUCKET, "--prefix", PREFIX, "--profile", "analyst"],
        env,
        timeout=60,
    )
    assert [o["Key"] for o in json.loads(api.stdout)["Contents"]] == [SEEDED]
    # The credentials came from the gateway's STS, for this token's subject.
    exchanges = exchanges_of(setup.gw, subject)
    assert exchanges and all(e["role"] == "analyst" for e in exchanges)


# ---- issuer key rotation ------------------------------------------------------


def test_issuer_key_rotation(setup: Setup) -> None:
    k1, k2, k3 = (setup.keys[k] for k in ("k1", "k2", "k3"))
    gw, issuer = setup.gw, setup.issuer
    old_token = issuer.token(k1, sub="rotating", groups=["analysts"])
    assume(gw.endpoint, ANALYST_ROLE, old_token)
    try:
        # A new kid appears: its tokens make the gateway fetch the keys again.
        issuer.publish([k1, k2])
        fetches = issuer.jwks_fetches
        assume(gw.endpoint, ANALYST_ROLE, issuer.token(k2, sub="rotating", groups=["analysts"]))
        assert issuer.jwks_fetches == fetches + 1
        # Old tokens keep working while the old key is published.
        assume(gw.endpoint, ANALYST_ROLE, old_token)
        # The old key is withdrawn; once the gateway has fetched the keys
        # again (here: for the next new kid) tokens signed with it stop working.
        issuer.publish([k2, k3])
        assume(gw.endpoint, ANALYST_ROLE, issuer.token(k3, sub="rotating", groups=["analysts"]))
        failure = sts_failure(gw.endpoint, ANALYST_ROLE, old_token)
        assert (failure.status, failure.code) == (400, "InvalidIdentityToken")
    finally:
        issuer.publish([k1])


# ---- sessions across gateway processes ---------------------------------------


@pytest.fixture(scope="module")
def twin(setup: Setup, moto_endpoint: str) -> Iterator[Gateway]:
    """A second gateway process with the same session keys and issuers."""
    gw = start_gateway(
        setup.workdir / "b",
        moto_endpoint,
        {"admin": ("admins",)},
        extra={"identity": setup.identity},
    )
    yield gw
    gw.stop()


def test_two_gateways_share_sessions_without_a_store(setup: Setup, twin: Gateway) -> None:
    subject = unique_sub("agent-twin")
    at_a = assume(setup.gw.endpoint, WRITER_ROLE, writer_token(setup, sub=subject))
    assert list_alpha(s3_client(twin.endpoint, at_a)) == [SEEDED]
    at_b = assume(twin.endpoint, WRITER_ROLE, writer_token(setup, sub=subject))
    assert list_alpha(s3_client(setup.gw.endpoint, at_b)) == [SEEDED]
    # B served A's session having never seen its exchange, and vice versa.
    assert [e["session_access_key_id"] for e in exchanges_of(twin, subject)] == [at_b.access_key_id]
    used_at_b = {e["access_key_id"] for e in s3_entries_of(twin, subject)}
    assert used_at_b == {at_a.access_key_id}


# ---- refusals of the exchange ---------------------------------------------------


def _tamper_payload(setup: Setup) -> str:
    head, _, sig = writer_token(setup).split(".")
    forged = setup.issuer.claims(sub="agent-1", groups=["trace-writers", "admins"], team="beta")
    return f"{head}.{b64json(forged)}.{sig}"


def _tamper_signature(setup: Setup) -> str:
    head, body, sig = writer_token(setup).split(".")
    middle = len(sig) // 2
    flipped = "A" if sig[middle] != "A" else "B"
    return f"{head}.{body}.{sig[:middle]}{flipped}{sig[middle + 1 :]}"


def _claims(setup: Setup, **claims: Any) -> dict[str, Any]:
    claims.setdefault("groups", ["trace-writers"])
    return setup.issuer.claims(**claims)


NOW = int(time.time())
BAD_TOKENS: dict[str, tuple[Any, str]] = {
    "expired": (
        lambda s: sign(s.keys["k1"], _claims(s, iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 3600)),
        "ExpiredTokenException",
    ),
    "not-yet-valid": (
        lambda s: sign(s.keys["k1"], _claims(s, nbf=int(time.time()) + 3600)),
        "InvalidIdentityToken",
    ),
    "issued-in-the-future": (
        lambda s: sign(s.keys["k1"], _claims(s, iat=int(time.time()) + 3600)),
        "InvalidIdentityToken",
    ),
    "wrong-issuer": (
        lambda s: sign(s.keys["k1"], _claims(s, iss="https://idp.elsewhere.example")),
        "InvalidIdentityToken",
    ),
    "issuer-with-trailing-slash": (
        lambda s: sign(s.keys["k1"], _claims(s, iss=s.issuer.url + "/")),
        "InvalidIdentityToken",
    ),
    "wrong-audience": (
        lambda s: sign(s.keys["k1"], _claims(s, aud="sts.amazonaws.com")),
        "InvalidIdentityToken",
    ),
    "no-exp": (
        lambda s: sign(s.keys["k1"], _claims(s, exp=None)),
        "InvalidIdentityToken",
    ),
    "unknown-kid": (
        lambda s: sign(s.keys["rogue"], _claims(s)),
        "InvalidIdentityToken",
    ),
    "right-kid-wrong-key": (
        lambda s: sign(SigningKey("k1", "RS256", s.keys["rogue"].key), _claims(s)),
        "InvalidIdentityToken",
    ),
    "alg-none": (lambda s: forge_none(_claims(s), "k1"), "InvalidIdentityToken"),
    "alg-none-with-signature": (
        lambda s: forge_none(_claims(s), "k1", signature="c2lnbmF0dXJl"),
        "InvalidIdentityToken",
    ),
    "hs256-with-the-public-key": (
        lambda s: forge_hs256(s.keys["k1"].public_pem(), _claims(s), "k1"),
        "InvalidIdentityToken",
    ),
    "tampered-payload": (_tamper_payload, "InvalidIdentityToken"),
    "tampered-signature": (_tamper_signature, "InvalidIdentityToken"),
    "oversized": (
        # A genuine, well-signed token of about 17.4 KB: over max_token_bytes
        # (16 KiB), under the 20000 characters STS itself accepts.
        lambda s: sign(s.keys["k1"], _claims(s, padding="x" * 12600)),
        "InvalidIdentityToken",
    ),
    "not-a-jwt": (lambda s: "this-is-not-a-token", "InvalidIdentityToken"),
    # Authentic, but a claim the gateway cannot use: IDPRejectedClaim (403).
    "unusable-groups-claim": (
        lambda s: sign(s.keys["k1"], _claims(s, groups={"trace-writers": True})),
        "IDPRejectedClaim",
    ),
    "control-character-in-selected-claim": (
        lambda s: sign(s.keys["k1"], _claims(s, team="alpha\nbeta")),
        "IDPRejectedClaim",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_web_identity_tokens_are_refused(setup: Setup, case: str) -> None:
    make, code = BAD_TOKENS[case]
    failure = sts_failure(setup.gw.endpoint, WRITER_ROLE, make(setup))
    assert (failure.status, failure.code) == (403 if code == "IDPRejectedClaim" else 400, code)
    if code == "InvalidIdentityToken":
        # One fixed text for every reason: the endpoint is no forging oracle.
        assert failure.message == INVALID_TOKEN_MESSAGE


def test_unknown_kid_is_refused_after_a_refetch(setup: Setup) -> None:
    fetches = setup.issuer.jwks_fetches
    failure = sts_failure(setup.gw.endpoint, WRITER_ROLE, sign(setup.keys["rogue"], _claims(setup)))
    assert failure.code == "InvalidIdentityToken"
    assert setup.issuer.jwks_fetches == fetches + 1


def test_role_trust_is_enforced(setup: Setup) -> None:
    # An analyst's token does not satisfy the trace-writer trust statements.
    failure = sts_failure(setup.gw.endpoint, WRITER_ROLE, analyst_token(setup))
    assert (failure.status, failure.code) == (403, "AccessDenied")
    # A writer without the trace-writers group neither.
    failure = sts_failure(setup.gw.endpoint, WRITER_ROLE, writer_token(setup, groups=["others"]))
    assert (failure.status, failure.code) == (403, "AccessDenied")
    # A role that does not exist answers exactly the same.
    missing = "arn:aws:iam::000000000000:role/no-such-role"
    failure = sts_failure(setup.gw.endpoint, missing, writer_token(setup))
    assert (failure.status, failure.code) == (403, "AccessDenied")
    assert failure.message == "Not authorized to perform sts:AssumeRoleWithWebIdentity"


@pytest.mark.parametrize(
    ("role", "duration"),
    [(WRITER_ROLE, 899), (WRITER_ROLE, 1800), (ANALYST_ROLE, 43201), (ANALYST_ROLE, 0)],
)
def test_duration_out_of_range(setup: Setup, role: str, duration: int) -> None:
    token = writer_token(setup) if role == WRITER_ROLE else analyst_token(setup)
    status, code, _ = raw_sts(
        setup.gw.endpoint,
        {
            "RoleArn": role,
            "RoleSessionName": "duration",
            "WebIdentityToken": token,
            "DurationSeconds": str(duration),
        },
    )
    assert (status, code) == (400, "ValidationError")


def test_duration_in_range_is_honoured(setup: Setup) -> None:
    before = time.time()
    creds = assume(setup.gw.endpoint, ANALYST_ROLE, analyst_token(setup), duration=43200)
    assert 43180 <= creds.expiration.timestamp() - before <= 43205


def test_session_policies_are_refused(setup: Setup) -> None:
    status, code, message = raw_sts(
        setup.gw.endpoint,
        {
            "RoleArn": ANALYST_ROLE,
            "RoleSessionName": "narrowed",
            "WebIdentityToken": analyst_token(setup),
            "Policy": '{"Version":"2012-10-17","Statement":[]}',
        },
    )
    assert (status, code) == (400, "ValidationError")
    assert "not supported" in message


# ---- session credentials on S3 ---------------------------------------------------


def _flip_middle(text: str) -> str:
    middle = len(text) // 2
    return text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]


def s3_error(client: Any) -> str:
    with pytest.raises(ClientError) as exc:
        client.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
    return error_code(exc.value)


@pytest.fixture(scope="module")
def writer_session(setup: Setup) -> SessionCreds:
    return assume(setup.gw.endpoint, WRITER_ROLE, writer_token(setup, sub="agent-s3"))


def test_tampered_session_token(setup: Setup, writer_session: SessionCreds) -> None:
    header, blob = writer_session.session_token.rsplit(".", 1)
    tampered = SessionCreds(
        writer_session.access_key_id,
        writer_session.secret_access_key,
        f"{header}.{_flip_middle(blob)}",
        writer_session.expiration,
    )
    assert s3_error(s3_client(setup.gw.endpoint, tampered)) == "InvalidToken"
    # The key id travels in clear but is authenticated too.
    relabelled = SessionCreds(
        writer_session.access_key_id,
        writer_session.secret_access_key,
        writer_session.session_token.replace(".s-new.", ".s-old.", 1),
        writer_session.expiration,
    )
    assert s3_error(s3_client(setup.gw.endpoint, relabelled)) == "InvalidToken"


def test_session_token_with_another_sessions_key(
    setup: Setup, writer_session: SessionCreds
) -> None:
    other = assume(setup.gw.endpoint, WRITER_ROLE, writer_token(setup, sub="agent-other"))
    # Another session's key id and secret, with this session's token …
    swapped = SessionCreds(
        other.access_key_id,
        other.secret_access_key,
        writer_session.session_token,
        other.expiration,
    )
    assert s3_error(s3_client(setup.gw.endpoint, swapped)) == "InvalidToken"
    # … or this session's secret: the token names the key it belongs to.
    mixed = SessionCreds(
        other.access_key_id,
        writer_session.secret_access_key,
        writer_session.session_token,
        other.expiration,
    )
    assert s3_error(s3_client(setup.gw.endpoint, mixed)) == "InvalidToken"
    # A static key with a session token is no session either.
    admin = setup.gw.identities["admin"]
    static = SessionCreds(
        admin.access_key_id,
        admin.secret_access_key,
        writer_session.session_token,
        other.expiration,
    )
    assert s3_error(s3_client(setup.gw.endpoint, static)) == "InvalidToken"
    # Both sessions still work as issued.
    assert list_alpha(s3_client(setup.gw.endpoint, writer_session)) == [SEEDED]
    assert list_alpha(s3_client(setup.gw.endpoint, other)) == [SEEDED]


def _sealed(
    keys: dict[str, bytes], active: str, *, issued_ago: float, duration: int
) -> SessionCreds:
    sealer = SessionSealer(keys, active, clock=lambda: time.time() - issued_ago)
    grant = SessionGrant(
        issuer="dev",
        subject="agent-sealed",
        role="trace-writer",
        role_arn=WRITER_ROLE,
        session_name="sealed",
        groups=("trace-writers",),
        claims={"team": "alpha"},
    )
    creds = sealer.seal(grant, duration)
    return SessionCreds(
        creds.access_key_id, creds.secret_access_key, creds.session_token, creds.expiration
    )


def test_expired_session(setup: Setup) -> None:
    keys = key_bytes(setup.session_keys)
    # Sealed with the gateway's own key: fresh, it works …
    fresh = _sealed(keys, "s-old", issued_ago=0, duration=900)
    assert list_alpha(s3_client(setup.gw.endpoint, fresh)) == [SEEDED]
    # … issued 20 minutes ago for 15, it has expired.
    expired = _sealed(keys, "s-old", issued_ago=1200, duration=900)
    assert s3_error(s3_client(setup.gw.endpoint, expired)) == "ExpiredToken"


def test_session_sealed_with_a_key_the_gateway_lacks(setup: Setup) -> None:
    stranger = key_bytes(new_session_keys("s-new", "s-gone"))
    # The gateway's key id, other key bytes: the seal does not open.
    assert s3_error(
        s3_client(setup.gw.endpoint, _sealed(stranger, "s-new", issued_ago=0, duration=900))
    ) == ("InvalidToken")
    # A key id the gateway does not have.
    assert s3_error(
        s3_client(setup.gw.endpoint, _sealed(stranger, "s-gone", issued_ago=0, duration=900))
    ) == ("InvalidToken")


@pytest.mark.parametrize(
    ("signature_version", "token_param"),
    [
        ("s3v4", "X-Amz-Security-Token="),
        ("s3", "x-amz-security-token="),
    ],
)
def test_presigned_url_carries_the_session_token(
    setup: Setup, writer_session: SessionCreds, signature_version: str, token_param: str
) -> None:
    def presign(creds: SessionCreds) -> str:
        client = s3_client(setup.gw.endpoint, creds, signature_version=signature_version)
        url: str = client.generate_presigned_url(
            "list_objects_v2", Params={"Bucket": BUCKET, "Prefix": PREFIX}, ExpiresIn=300
        )
        assert token_param in url
        return url

    ok = urllib3.request("GET", presign(writer_session), retries=False)
    assert ok.status == 200 and f"<Key>{SEEDED}</Key>".encode() in ok.data, ok.data
    header, blob = writer_session.session_token.rsplit(".", 1)
    tampered = SessionCreds(
        writer_session.access_key_id,
        writer_session.secret_access_key,
        f"{header}.{_flip_middle(blob)}",
        writer_session.expiration,
    )
    bad = urllib3.request("GET", presign(tampered), retries=False)
    assert bad.status == 400 and b"<Code>InvalidToken</Code>" in bad.data


# ---- an issuer that is down or hangs ----------------------------------------------


@dataclass
class DownSetup:
    gw: Gateway
    issuer: Issuer
    tarpit: Tarpit
    ready_at: float  # monotonic time the gateway answered


@pytest.fixture(scope="module")
def down(
    setup: Setup, moto_endpoint: str, signing_keys: dict[str, SigningKey]
) -> Iterator[DownSetup]:
    """A gateway with other session keys, keys cached for one second, an
    issuer that will be stopped and one that never answers."""
    issuer = Issuer([signing_keys["k1"]])
    tarpit = Tarpit()
    identity = identity_section(
        [
            issuer_config("dev", issuer.url, selected_claims=["team"]),
            issuer_config("tarpit", tarpit.url),
        ],
        new_session_keys("s-new"),
        "s-new",
        http_timeout_seconds=2,
        jwks_cache_seconds=1,
    )
    gw = start_gateway(
        setup.workdir / "down", moto_endpoint, {"admin": ("admins",)}, extra={"identity": identity}
    )
    yield DownSetup(gw, issuer, tarpit, time.monotonic())
    gw.stop()
    issuer.stop()
    tarpit.close()


def test_sessions_of_other_keys_are_refused(setup: Setup, down: DownSetup) -> None:
    session = assume(setup.gw.endpoint, WRITER_ROLE, writer_token(setup, sub="agent-elsewhere"))
    assert s3_error(s3_client(down.gw.endpoint, session)) == "InvalidToken"


def test_issuer_down_is_a_prompt_idp_communication_error(down: DownSetup) -> None:
    token = down.issuer.token(sub="alice", groups=["analysts"])
    assume(down.gw.endpoint, ANALYST_ROLE, token)  # the issuer is up: fine
    down.issuer.stop()
    time.sleep(1.2)  # the cached keys are past their lifetime
    for _ in range(2):  # the first fetch fails, then the failure backoff answers
        started = time.monotonic()
        failure = sts_failure(down.gw.endpoint, ANALYST_ROLE, token)
        assert (failure.status, failure.code) == (400, "IDPCommunicationError")
        assert time.monotonic() - started < 3


def test_hanging_issuer_times_out(down: DownSetup) -> None:
    token = sign(
        make_key("ES256", "t1"),
        {
            "iss": down.tarpit.url,
            "sub": "x",
            "aud": "s3gate",
            "iat": int(time.time()),
            "exp": int(time.time()) + 600,
        },
    )
    # The start-up fetch from the tarpit failed; for 5 seconds after a failure
    # the gateway answers at once without trying. Past that, it tries again,
    # and this time the answer comes from the fetch's own timeout.
    time.sleep(max(0.0, down.ready_at + 5.5 - time.monotonic()))
    started = time.monotonic()
    failure = sts_failure(down.gw.endpoint, ANALYST_ROLE, token)
    elapsed = time.monotonic() - started
    assert (failure.status, failure.code) == (400, "IDPCommunicationError")
    # http_timeout_seconds is 2: an answer after the timeout, not a hang.
    assert 1.5 <= elapsed < 6
