"""`s3gate dev`: a ready-to-use gateway for a newcomer's laptop.

Everything lives under one data folder: the local object store, and a
development access key generated on first start (kept in a 0600 file, never
committed, never printed to logs — only to the terminal of the person who
asked for it).
"""

from __future__ import annotations

import json
import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3gate import config
from s3gate.identity import devissuer

# The example policies: `policies/` of the working directory (`make run` in a
# checkout), else the folder next to the package (an editable install).
_LOCAL_POLICIES = Path("policies")
_PACKAGED_POLICIES = Path(__file__).resolve().parent.parent / "policies"


def policy_dir() -> Path:
    local = _LOCAL_POLICIES / "schema.cedarschema"
    return (_LOCAL_POLICIES if local.exists() else _PACKAGED_POLICIES).resolve()


DEV_BUCKETS = ("traces", "audit")
DEV_PRINCIPAL = "dev-admin"
DEFAULT_DATA_DIR = Path("./data")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000


@dataclass(frozen=True)
class DevKey:
    access_key_id: str
    secret_file: Path

    @property
    def secret(self) -> str:
        return self.secret_file.read_text().strip()


def dev_key(data_dir: Path) -> DevKey:
    """The development key of this data folder, created on first use."""
    folder = data_dir / "dev"
    folder.mkdir(parents=True, exist_ok=True)
    meta, secret_file = folder / "access-key.json", folder / "secret-access-key"
    if not meta.exists() or not secret_file.exists():
        alphabet = string.ascii_uppercase + string.digits
        key_id = "S3GDEV" + "".join(secrets.choice(alphabet) for _ in range(14))
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(30) + "\n")
        meta.write_text(json.dumps({"access_key_id": key_id}) + "\n")
    key_id = json.loads(meta.read_text())["access_key_id"]
    return DevKey(access_key_id=key_id, secret_file=secret_file)


class NoDevGateway(Exception):
    """`s3gate dev env|token` found no development gateway's data to use."""


@dataclass(frozen=True)
class DevGateway:
    """Where a development gateway runs (or last ran) and keeps its data.

    Recorded when `s3gate dev` starts, twice: in its data folder (so `dev env
    --data-dir X` prints the port it really uses) and in a per-user pointer
    (so `dev env` run from another directory finds it instead of creating a
    new `./data` with a new key the gateway does not know)."""

    data_dir: Path
    host: str
    port: int
    pid: int

    @property
    def running(self) -> bool:
        if self.pid <= 0:  # never recorded (kill(0) would signal our own group)
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, someone else's
            return True
        return True


def _state_file(data_dir: Path) -> Path:
    return data_dir / "dev" / "gateway.json"


def user_pointer(environ: Mapping[str, str] = os.environ) -> Path:
    state = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "s3gate" / "dev-gateway.json"


def record_started(data_dir: Path, host: str, port: int) -> DevGateway:
    gateway = DevGateway(data_dir.resolve(), host, port, os.getpid())
    record = json.dumps(
        {"data_dir": str(gateway.data_dir), "host": host, "port": port, "pid": gateway.pid}
    )
    for path in (_state_file(data_dir), user_pointer()):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(record + "\n")
        except OSError:  # a read-only home must not stop the gateway
            continue
    return gateway


def _read_state(path: Path) -> DevGateway | None:
    try:
        raw = json.loads(path.read_text())
        return DevGateway(
            Path(raw["data_dir"]), str(raw["host"]), int(raw["port"]), int(raw["pid"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _has_key(data_dir: Path) -> bool:
    folder = data_dir / "dev"
    return (folder / "access-key.json").exists() and (folder / "secret-access-key").exists()


def find_gateway(data_dir: Path | None) -> DevGateway:
    """The dev gateway whose data `dev env` / `dev token` should use; never
    creates anything. `data_dir` given: that folder (its recorded host and
    port if it ever ran). Not given: `./data` if it holds a dev key, else the
    gateway the per-user pointer names."""
    folder = data_dir if data_dir is not None else DEFAULT_DATA_DIR
    if _has_key(folder):
        known = _read_state(_state_file(folder))
        if known is not None:
            return DevGateway(folder, known.host, known.port, known.pid)
        return DevGateway(folder, DEFAULT_HOST, DEFAULT_PORT, 0)
    if data_dir is not None:
        raise NoDevGateway(
            f"no development gateway data in {data_dir} (no dev key there); "
            "start one with `s3gate dev --data-dir DIR` (or `make run` in the checkout)"
        )
    pointed = _read_state(user_pointer())
    if pointed is not None and _has_key(pointed.data_dir):
        return pointed
    raise NoDevGateway(
        "no development gateway data here (./data/dev) and no running dev "
        "gateway recorded for this user; start one with `make run` in the s3gate checkout, "
        "or pass --data-dir to point at its data folder"
    )


def dev_settings(data_dir: Path, host: str, port: int) -> config.Settings:
    key = dev_key(data_dir)
    return config.load(
        None,
        {
            "data_dir": str(data_dir),
            "server": {"host": host, "port": port},
            "upstream": {
                "type": "local",
                "path": str(data_dir / "store"),
                "create_buckets": list(DEV_BUCKETS),
            },
            "policy": {"dir": str(policy_dir())},
            # A signing key generated once in the data folder; the dev chain's name.
            "audit": {"generate_key": True, "replica_id": "dev"},
            "identity": _identity(data_dir, host, port),
            "approvals": approvals_web(host, port),
            "static_keys": [
                {
                    "access_key_id": key.access_key_id,
                    "secret_access_key": {"file": str(key.secret_file)},
                    "principal": {"name": DEV_PRINCIPAL, "groups": ["admins"]},
                }
            ],
        },
    )


def _identity(data_dir: Path, host: str, port: int) -> dict[str, Any]:
    overrides = devissuer.identity_overrides(data_dir, host, port, policy_dir() / "roles.yaml")
    # The roles come with the policy bundle (and reload with it).
    overrides.pop("roles_file", None)
    return overrides


def web_url(host: str, port: int) -> str:
    """The approvals page of a dev gateway."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/_s3gate/approvals"


def approvals_web(host: str, port: int) -> dict[str, Any]:
    """The web page signs in at the dev issuer (its code flow: devauthorize.py)."""
    issuer = devissuer.issuer_url(host, port)
    return {
        "web_issuer": devissuer.NAME,
        "web_client_id": devissuer.WEB_CLIENT_ID,
        "web_redirect_url": f"{web_url(host, port)}/callback",
        # Given, not discovered: the gateway would otherwise ask itself at start.
        "web_authorization_endpoint": f"{issuer}/authorize",
        "web_token_endpoint": f"{issuer}/token",
    }


def env_lines(data_dir: Path, host: str, port: int) -> list[str]:
    key = dev_key(data_dir)
    return [
        f"export AWS_ENDPOINT_URL=http://{host}:{port}",
        f"export AWS_ACCESS_KEY_ID={key.access_key_id}",
        f"export AWS_SECRET_ACCESS_KEY={key.secret}",
        "export AWS_DEFAULT_REGION=us-east-1",
    ]


def banner(data_dir: Path, host: str, port: int) -> str:
    url = f"http://{host}:{port}"
    lines = [
        "",
        f"s3gate dev is starting on {url}",
        f"  local store: {data_dir / 'store'}   buckets: {', '.join(DEV_BUCKETS)}",
        "",
        "Point a client at it (paste into another terminal):",
        "",
        *("  " + line for line in env_lines(data_dir, host, port)),
        "",
        "  aws s3 cp README.md s3://traces/hello.md",
        "  aws s3 ls s3://traces/",
        "  aws s3 cp s3://traces/hello.md -",
        "",
        "  python -c \"import boto3; s3 = boto3.client('s3'); "
        "print(s3.list_objects_v2(Bucket='traces')['KeyCount'])\"",
        "",
        f"(the same export lines again: s3gate dev env --data-dir {data_dir})",
        "",
        "Or as an agent does, with a web identity token instead of keys",
        "(the SDK exchanges it at the gateway's STS by itself):",
        "",
        *("  " + line for line in devissuer.example_lines(data_dir, host, port)),
        "",
        f"Approvals web page: {web_url(host, port)}",
        "  (sign in at the dev issuer as any user; group `security` approves)",
        "",
    ]
    return "\n".join(lines)
