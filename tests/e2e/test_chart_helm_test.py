"""The chart's `helm test` pod, run for real against a running gateway.

The script and environment are taken from the rendered Pod
(charts/s3gate/templates/tests/test-request.yaml), not copied, and run with
this interpreter the way the pod runs them with the image's `python3` (the
package's virtual environment, botocore included): it must pass against the
gateway, over HTTP and HTTPS, anonymous only or with a signed request, and
fail against something that is not one (the store itself, a closed port) or
with a wrong secret key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.e2e.harness import REGION, Gateway, free_port
from tests.helmchart import MINIMAL, objects, values


def _pod(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return objects(values(MINIMAL, extra or {}))["Pod/s3gate-test-request"]


def _run(
    pod: dict[str, Any], url: str, secrets: dict[tuple[str, str], str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the pod's script; `secrets` stands in for the Secrets its env names."""
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python3", "-c"]  # the image's interpreter
    (script,) = container["args"]
    env = {}
    for var in container["env"]:
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = (secrets or {})[(ref["name"], ref["key"])]
    assert env["S3GATE_URL"] == (
        "https://s3gate:9000" if "https" in env["S3GATE_URL"] else "http://s3gate:9000"
    )
    env["S3GATE_URL"] = url  # the Service's address, here
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_helm_test_passes_against_the_gateway(gateway: Gateway) -> None:
    done = _run(_pod(), gateway.endpoint)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok   ") == 3
    assert "ok   anonymous ListObjectsV2 refused" in done.stdout


def test_the_helm_test_passes_over_tls(tls_gateway: Gateway) -> None:
    pod = _pod({"secrets": {"tls": {"existingSecret": "s3gate-tls"}}})
    done = _run(pod, tls_gateway.endpoint)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_helm_test_fails_against_what_is_not_the_gateway(moto_endpoint: str) -> None:
    # The store answers S3 too, but has no /_s3gate/ endpoints.
    done = _run(_pod(), moto_endpoint)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL healthz" in done.stdout
    closed = _run(_pod(), f"http://127.0.0.1:{free_port()}")
    assert closed.returncode != 0


CREDENTIALS = {"tests": {"credentials": {"existingSecret": "s3gate-test-key"}}}


def _key(gateway: Gateway, secret: str | None = None) -> dict[tuple[str, str], str]:
    admin = gateway.identities["admin"]
    return {
        ("s3gate-test-key", "access-key-id"): admin.access_key_id,
        ("s3gate-test-key", "secret-access-key"): secret or admin.secret_access_key,
    }


def test_the_helm_test_sends_a_signed_request_with_a_test_key(
    gateway: Gateway, bucket: str
) -> None:
    pod = _pod({**CREDENTIALS, "tests": {**CREDENTIALS["tests"], "bucket": bucket}})
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["S3GATE_REGION"] == REGION
    done = _run(pod, gateway.endpoint, _key(gateway))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok   signed ListObjectsV2 allowed" in done.stdout
    wrong = _run(pod, gateway.endpoint, _key(gateway, "not-the-secret-key-at-all"))
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "FAIL signed ListObjectsV2 allowed: status 403" in wrong.stdout
    assert "SignatureDoesNotMatch" in wrong.stdout
