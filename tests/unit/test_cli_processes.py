"""`s3gate serve` is one server process: `--workers N` and WEB_CONCURRENCY=N
(which uvicorn would read) are refused for every N but 1, with a message
that points at masking.workers and replicas."""

from __future__ import annotations

import pytest

from s3gate import config
from s3gate.cli import build_parser, refuse_many_servers


@pytest.mark.parametrize(
    ("workers", "environ", "said"),
    [
        (2, {}, "--workers 2"),
        (0, {}, "--workers 0"),
        (None, {"WEB_CONCURRENCY": "4"}, "WEB_CONCURRENCY='4'"),
        (None, {"WEB_CONCURRENCY": "lots"}, "WEB_CONCURRENCY='lots'"),
        (None, {"WEB_CONCURRENCY": ""}, "WEB_CONCURRENCY=''"),
        (3, {"WEB_CONCURRENCY": "3"}, "--workers 3 and WEB_CONCURRENCY='3'"),
    ],
)
def test_several_server_processes_are_refused(
    workers: int | None, environ: dict[str, str], said: str
) -> None:
    with pytest.raises(config.ConfigError) as refused:
        refuse_many_servers(workers, environ)
    text = str(refused.value)
    assert said in text and "masking.workers" in text and "more replicas" in text


@pytest.mark.parametrize(
    ("workers", "environ"),
    [(None, {}), (1, {}), (None, {"WEB_CONCURRENCY": "1"}), (1, {"WEB_CONCURRENCY": " 1 "})],
)
def test_one_server_process_is_fine(workers: int | None, environ: dict[str, str]) -> None:
    assert refuse_many_servers(workers, environ) is None


def test_serve_takes_workers() -> None:
    args = build_parser().parse_args(["serve", "--workers", "2"])
    assert args.workers == 2
    assert build_parser().parse_args(["serve"]).workers is None
