"""Run the command-line S3 clients (aws CLI v1, rclone, s3cmd) against a gateway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from tests.e2e.harness import REGION, Gateway

AWS = str(Path(sys.executable).parent / "aws")


def run(
    argv: list[str], env: dict[str, str], *, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{argv[0]} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def aws(
    gw: Gateway, *args: str, identity: str = "admin", check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run([AWS, *args], gw.env(identity), check=check)


def rclone(
    gw: Gateway, *args: str, identity: str = "admin", check: bool = True
) -> subprocess.CompletedProcess[str]:
    who = gw.identities[identity]
    env = gw.env(identity)
    env.update(
        {
            "RCLONE_CONFIG": "/dev/null",
            "RCLONE_CONFIG_GW_TYPE": "s3",
            "RCLONE_CONFIG_GW_PROVIDER": "Other",
            "RCLONE_CONFIG_GW_ACCESS_KEY_ID": who.access_key_id,
            "RCLONE_CONFIG_GW_SECRET_ACCESS_KEY": who.secret_access_key,
            "RCLONE_CONFIG_GW_ENDPOINT": gw.endpoint,
            "RCLONE_CONFIG_GW_REGION": REGION,
            "RCLONE_CONFIG_GW_FORCE_PATH_STYLE": "true",
        }
    )
    return run(["rclone", "--retries", "1", "--low-level-retries", "1", *args], env, check=check)


def s3cmd_config(gw: Gateway, workdir: Path, identity: str = "admin") -> Path:
    who = gw.identities[identity]
    host = urlparse(gw.endpoint).netloc
    path = workdir / f"s3cmd-{identity}.cfg"
    path.write_text(
        "[default]\n"
        f"access_key = {who.access_key_id}\n"
        f"secret_key = {who.secret_access_key}\n"
        f"host_base = {host}\n"
        f"host_bucket = {host}\n"
        f"bucket_location = {REGION}\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "check_ssl_certificate = False\n"
        "multipart_chunk_size_mb = 5\n"
        "progress_meter = False\n"
    )
    return path


def s3cmd(
    gw: Gateway, cfg: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in gw.env().items() if not k.startswith("AWS_")}
    return run(["s3cmd", "-c", str(cfg), *args], env, check=check)


# s3fs and pandas-through-s3fs run in their own venv (`make tools`): s3fs's
# aiobotocore pins an older botocore than the project's.
ANALYST_PYTHON = Path(__file__).resolve().parents[2] / ".venv-analyst" / "bin" / "python"


def analyst_python(
    gw: Gateway, script: str, *args: str, identity: str = "admin"
) -> subprocess.CompletedProcess[str]:
    """Run `script` in the analyst-tools venv with the identity's keys in
    S3GATE_E2E_KEY / _SECRET and the endpoint in S3GATE_E2E_ENDPOINT."""
    who = gw.identities[identity]
    env = gw.env(identity)
    env.update(
        {
            "S3GATE_E2E_ENDPOINT": gw.endpoint,
            "S3GATE_E2E_KEY": who.access_key_id,
            "S3GATE_E2E_SECRET": who.secret_access_key,
        }
    )
    return run([str(ANALYST_PYTHON), "-c", script, *args], env)
