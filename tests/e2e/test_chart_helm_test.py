"""The chart's `helm test` pod, run for real against a running gateway.

The script and environment are taken from the rendered Pod
(charts/s3gate/templates/tests/test-request.yaml), not copied, and run with
this interpreter the way the pod runs them with the image's `python3`: it
must pass against the gateway, over HTTP and HTTPS, and fail against
something that is not one (the store itself, a closed port).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from tests.e2e.harness import Gateway, free_port
from tests.helmchart import MINIMAL, objects, values


def _pod(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return objects(values(MINIMAL, extra or {}))["Pod/s3gate-test-request"]


def _run(pod: dict[str, Any], url: str) -> subprocess.CompletedProcess[str]:
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["python3", "-c"]  # the image's interpreter
    (script,) = container["args"]
    env = {e["name"]: e["value"] for e in container["env"]}
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
