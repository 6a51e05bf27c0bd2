"""handlers.deletemarkers: the error a GET answers when the store found no
object, whatever the store says on the GET itself (moto names the delete
marker on HEAD only)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from s3gate import errors
from s3gate.handlers.deletemarkers import explain_missing

MARKED = {"x-amz-delete-marker": "true", "x-amz-version-id": "dm-1"}


class Store:
    def __init__(self, head: errors.S3Error | None) -> None:
        self.head = head
        self.asked: list[tuple[str, str, str | None]] = []

    async def head_object(self, bucket: str, key: str, *, version_id: str | None) -> object:
        self.asked.append((bucket, key, version_id))
        if self.head is not None:
            raise self.head
        return object()  # the key was written again since the GET


def _call(store: Store, version_id: str | None) -> Any:
    return SimpleNamespace(upstream=store, bucket="b", key="k", version_id=version_id)


CASES = [
    # (store's GET error, HEAD's answer, version id asked) → (code, status, headers)
    pytest.param(
        errors.NoSuchKey(),
        errors.NoSuchKey(headers=MARKED),
        None,
        ("NoSuchKey", 404, MARKED),
        id="latest-is-a-marker",
    ),
    pytest.param(
        errors.NoSuchVersion(),
        errors.MethodNotAllowed(headers=MARKED),
        "dm-1",
        ("MethodNotAllowed", 405, MARKED),
        id="version-is-a-marker",
    ),
    pytest.param(
        errors.NoSuchKey(),
        errors.NoSuchKey(),
        None,
        ("NoSuchKey", 404, {}),
        id="never-written",
    ),
    pytest.param(
        errors.NoSuchVersion(),
        errors.NoSuchVersion(),
        "v-9",
        ("NoSuchVersion", 404, {}),
        id="no-such-version",
    ),
    pytest.param(
        errors.NoSuchKey(),
        errors.NoSuchKey(headers={"x-amz-delete-marker": "false"}),
        None,
        ("NoSuchKey", 404, {}),
        id="marker-header-false",
    ),
    pytest.param(
        errors.NoSuchKey(),
        None,
        None,
        ("NoSuchKey", 404, {}),
        id="written-again-since",
    ),
    pytest.param(
        errors.NoSuchKey(),
        errors.ServiceUnavailable(),
        None,
        ("NoSuchKey", 404, {}),
        id="head-fails",
    ),
    pytest.param(
        errors.NoSuchKey(headers={"x-amz-delete-marker": "true", "x-amz-version-id": "s"}),
        errors.InternalError(),
        None,
        ("NoSuchKey", 404, {"x-amz-delete-marker": "true", "x-amz-version-id": "s"}),
        id="store-said-so-on-get",
    ),
]


@pytest.mark.parametrize(("missing", "head", "version_id", "expected"), CASES)
def test_the_get_answers_what_s3_would(
    missing: errors.S3Error,
    head: errors.S3Error | None,
    version_id: str | None,
    expected: tuple[str, int, dict[str, str]],
) -> None:
    store = Store(head)
    answer = asyncio.run(explain_missing(_call(store, version_id), missing))
    assert (answer.error_code, answer.http_status, answer.headers) == expected
    said_on_get = "x-amz-delete-marker" in missing.headers
    assert store.asked == ([] if said_on_get else [("b", "k", version_id)])
