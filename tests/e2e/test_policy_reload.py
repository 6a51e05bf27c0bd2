"""Policy hot reload, end to end: a gateway whose `policy.dir` is a temporary
copy of `policies/`, changed under concurrent traffic.

Principals are static keys: `ops` (group `ops`, which no example policy
names) and the example `admins` key. The test adds `access/reload.cedar`:

- v1: ops may list the test bucket and sees the keys under `v1/` only;
- v2: ops sees the keys under `v2/` only, and may read the bucket.

So under v1 an ops GET is AccessDenied and its listing is exactly `v1/x.txt`;
under v2 the GET answers the object and the listing is exactly `v2/x.txt`.
A listing showing both or neither would be a request decided by a mix of
bundles. Each traffic thread checks that every answer is one of the two
outcomes and that, once it has seen the new one, it never sees the old one
again.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import POLICIES, Gateway, start_gateway
from tests.e2e.sts import access_log, store_seed

IDENTITIES = {"admin": ("admins",), "ops": ("ops",)}
PAYLOAD = b"payload"


def rule(bucket: str, visible: str, read: bool) -> str:
    text = f"""// Written by test_policy_reload.py.
@id("reload.list")
permit (principal in Group::"ops", action in Action::"list", resource)
when {{
  resource.bucket == "{bucket}" &&
  (if resource has dir1 then resource.dir1 == "{visible}" else true)
}};
"""
    if read:
        text += f"""
@id("reload.read")
permit (principal in Group::"ops", action in Action::"read", resource)
when {{ resource.bucket == "{bucket}" }};
"""
    return text


SYNTAX_ERROR = """// Written by test_policy_reload.py: not Cedar.
@id("reload.broken")
permit (principal, action, resource) when { resource.bucket == };
"""

VALIDATION_ERROR = """// Written by test_policy_reload.py: parses, does not validate.
@id("reload.misspelt")
permit (principal, action, resource)
when { resource.bukket == "traces" };
"""

# Valid Cedar (an annotation may have a space before its value) that names a
# masking profile the bundle does not have: accepted, it would make every read
# it permits fail with InternalError.
MISSPELT_MASK = """// Written by test_policy_reload.py: names no masking profile.
@id("reload.misspelt-mask")
@mask ("analyst-veiw")
permit (principal in Group::"ops", action in Action::"read", resource)
when { resource.bucket == "traces" };
"""


@dataclass
class Setup:
    gw: Gateway
    bucket: str
    policy_dir: Path


def copy_policies(target: Path) -> Path:
    shutil.copytree(POLICIES, target)
    return target


def readyz(gw: Gateway) -> dict[str, Any]:
    """The policy part of the gateway's status (readyz itself says only "ready")."""
    code, body = gw.status("admin")
    assert code == 200, body
    status: dict[str, Any] = body["policy"]
    return status


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def setup(
    moto_endpoint: str, direct: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    workdir = tmp_path_factory.mktemp("reload")
    policy_dir = copy_policies(workdir / "policies")
    bucket = f"reload-{uuid.uuid4().hex[:10]}"
    (policy_dir / "access" / "reload.cedar").write_text(rule(bucket, "v1", read=False))
    with store_seed(direct, bucket) as seed:
        for key in ("data/obj.txt", "v1/x.txt", "v2/x.txt"):
            seed.put(bucket, key, PAYLOAD)
        gw = start_gateway(
            workdir / "gw",
            moto_endpoint,
            IDENTITIES,
            extra={"policy": {"dir": str(policy_dir), "reload_debounce_seconds": 0.3}},
        )
        try:
            yield Setup(gw, bucket, policy_dir)
        finally:
            gw.stop()


# ---- traffic -----------------------------------------------------------------------


@dataclass
class Worker:
    """Repeats one request; classifies every answer as "old", "new" or an error."""

    name: str
    request: Callable[[], str]
    seen: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.seen.append(self.request())
            except Exception as exc:  # every failure is recorded, not raised
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def check(self, *, expect: set[str]) -> None:
        assert self.errors == [], (self.name, self.errors[:5])
        assert set(self.seen) <= expect | {"old", "new"}, (self.name, set(self.seen))
        assert set(self.seen) >= expect, (self.name, expect, len(self.seen))
        if "new" in self.seen:
            first_new = self.seen.index("new")
            assert "old" not in self.seen[first_new:], (self.name, "went back to the old bundle")


def ops_get(gw: Gateway, bucket: str) -> Callable[[], str]:
    client = gw.client("ops")

    def request() -> str:
        try:
            body = client.get_object(Bucket=bucket, Key="data/obj.txt")["Body"].read()
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "AccessDenied" and exc.response["ResponseMetadata"]["RequestId"]:
                return "old"
            raise
        if body != PAYLOAD:
            raise AssertionError(f"unexpected body {body!r}")
        return "new"

    return request


def ops_list(gw: Gateway, bucket: str) -> Callable[[], str]:
    client = gw.client("ops")

    def request() -> str:
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        if keys == ["v1/x.txt"]:
            return "old"
        if keys == ["v2/x.txt"]:
            return "new"
        raise AssertionError(f"a listing of neither bundle: {keys}")

    return request


def admin_get(gw: Gateway, bucket: str) -> Callable[[], str]:
    client = gw.client("admin")

    def request() -> str:
        body = client.get_object(Bucket=bucket, Key="data/obj.txt")["Body"].read()
        if body != PAYLOAD:
            raise AssertionError(f"unexpected body {body!r}")
        return "same"

    return request


class Traffic:
    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=w.run, args=(self._stop,), daemon=True) for w in workers
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def counts(self) -> int:
        return sum(len(w.seen) for w in self.workers)


def workers(setup: Setup) -> list[Worker]:
    return [
        Worker("ops GET", ops_get(setup.gw, setup.bucket)),
        Worker("ops LIST", ops_list(setup.gw, setup.bucket)),
        Worker("admin GET", admin_get(setup.gw, setup.bucket)),
    ]


def let_traffic_run(traffic: Traffic, seconds: float) -> None:
    """At least `seconds`, and until every worker has answers."""
    time.sleep(seconds)
    wait_for("traffic", lambda: all(len(w.seen) >= 3 for w in traffic.workers))


# ---- the tests ---------------------------------------------------------------------


def test_reload_under_traffic(setup: Setup) -> None:
    gw, bucket = setup.gw, setup.bucket
    before = readyz(gw)
    old_hash = before["bundle_hash"]
    with Traffic(workers(setup)) as traffic:
        let_traffic_run(traffic, 1.0)
        (setup.policy_dir / "access" / "reload.cedar").write_text(rule(bucket, "v2", read=True))
        wait_for("the new bundle", lambda: readyz(gw)["bundle_hash"] != old_hash)
        let_traffic_run(traffic, 1.0)
    ops_get_w, ops_list_w, admin_w = traffic.workers
    ops_get_w.check(expect={"old", "new"})
    ops_list_w.check(expect={"old", "new"})
    admin_w.check(expect={"same"})
    after = readyz(gw)
    new_hash = after["bundle_hash"]
    assert new_hash != old_hash and len(new_hash) == 64
    assert after["last_reload"]["status"] == "loaded"
    assert after["last_reload"]["trigger"] == "watch"
    assert f"policy bundle {new_hash} loaded (watch), was {old_hash}" in gw.log()
    # The new behaviour holds.
    ops = gw.client("ops")
    assert ops.get_object(Bucket=bucket, Key="data/obj.txt")["Body"].read() == PAYLOAD
    assert [o["Key"] for o in ops.list_objects_v2(Bucket=bucket)["Contents"]] == ["v2/x.txt"]
    # Every allowed decision names the bundle that made it: the old one or
    # the new one; ops reads were only ever allowed by the new one.
    decided = [e for e in access_log(gw) if e.get("bucket") == bucket and "policy" in e]
    assert {e["policy"]["bundle_hash"] for e in decided} <= {old_hash, new_hash}
    ops_reads = [e for e in decided if e["principal"] == "ops" and e["operation"] == "GetObject"]
    assert ops_reads and {e["policy"]["bundle_hash"] for e in ops_reads} == {new_hash}
    assert {tuple(e["policy"]["policies"]) for e in ops_reads} == {("reload.read",)}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (SYNTAX_ERROR, "access/broken.cedar:"),
        (VALIDATION_ERROR, "bukket"),
        (MISSPELT_MASK, "@mask names no profile: 'analyst-veiw'"),
    ],
    ids=["syntax-error", "validation-error", "unknown-mask-profile"],
)
def test_broken_bundle_is_rejected_while_traffic_continues(
    setup: Setup, content: str, reason: str
) -> None:
    gw = setup.gw
    # Start from the v2 bundle (whether or not the test above ran first).
    (setup.policy_dir / "access" / "reload.cedar").write_text(rule(setup.bucket, "v2", read=True))
    wait_for(
        "the v2 bundle",
        lambda: (
            gw.client("ops")
            .list_objects_v2(Bucket=setup.bucket)
            .get("Contents", [{}])[0]
            .get("Key")
            == "v2/x.txt"
        ),
    )
    before = readyz(gw)
    broken = setup.policy_dir / "access" / "broken.cedar"
    with Traffic(workers(setup)) as traffic:
        let_traffic_run(traffic, 0.5)
        broken.write_text(content)
        try:
            wait_for(
                "the rejection",
                lambda: (
                    (readyz(gw)["last_rejection"] or {}).get("at")
                    != (before["last_rejection"] or {}).get("at")
                ),
            )
            let_traffic_run(traffic, 0.5)
        finally:
            broken.unlink()
    ops_get_w, ops_list_w, admin_w = traffic.workers
    ops_get_w.check(expect={"new"})
    ops_list_w.check(expect={"new"})
    admin_w.check(expect={"same"})
    status = readyz(gw)
    assert status["bundle_hash"] == before["bundle_hash"]
    assert status["last_rejection"]["trigger"] == "watch"
    log = gw.log()
    assert f"policy bundle rejected (watch), keeping {before['bundle_hash']}" in log
    tail = log[log.rindex("policy bundle rejected") :]
    assert "access/broken.cedar" in tail and reason in tail
    # Removing the file brings back exactly the active bundle: no reload.
    wait_for("the unchanged reload", lambda: readyz(gw)["last_reload"]["status"] == "unchanged")
    assert readyz(gw)["bundle_hash"] == before["bundle_hash"]


# ---- SIGHUP -------------------------------------------------------------------------


@pytest.fixture
def unwatched(moto_endpoint: str, setup: Setup, tmp_path: Path) -> Iterator[Setup]:
    """A gateway that does not watch its policy directory: only SIGHUP reloads."""
    policy_dir = copy_policies(tmp_path / "policies")
    gw = start_gateway(
        tmp_path / "gw",
        moto_endpoint,
        IDENTITIES,
        extra={"policy": {"dir": str(policy_dir), "watch": False}},
    )
    yield Setup(gw, setup.bucket, policy_dir)
    gw.stop()


def test_sighup_reloads(unwatched: Setup) -> None:
    gw, bucket = unwatched.gw, unwatched.bucket
    ops = gw.client("ops")
    with pytest.raises(ClientError) as exc:
        ops.get_object(Bucket=bucket, Key="data/obj.txt")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    old_hash = readyz(gw)["bundle_hash"]
    (unwatched.policy_dir / "access" / "reload.cedar").write_text(rule(bucket, "v2", read=True))
    time.sleep(1.5)  # more than enough for a watcher, were there one
    assert readyz(gw)["bundle_hash"] == old_hash
    with pytest.raises(ClientError):
        ops.get_object(Bucket=bucket, Key="data/obj.txt")
    gw.proc.send_signal(signal.SIGHUP)
    wait_for("the SIGHUP reload", lambda: readyz(gw)["bundle_hash"] != old_hash)
    status = readyz(gw)
    assert status["last_reload"] == {
        **status["last_reload"],
        "status": "loaded",
        "trigger": "sighup",
    }
    assert ops.get_object(Bucket=bucket, Key="data/obj.txt")["Body"].read() == PAYLOAD
    assert gw.proc.poll() is None  # still serving
