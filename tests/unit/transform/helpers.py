"""Shared helpers for the masking tests: keys, profiles from YAML text, runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from s3gate.transform.engine import Masker
from s3gate.transform.profile import Profile, load_profiles, parse_profile
from s3gate.transform.settings import Limits
from s3gate.transform.summary import MaskSummary
from s3gate.transform.tokenkeys import TokenKeys

REPO = Path(__file__).resolve().parents[3]
PROFILES_DIR = REPO / "policies" / "masking"
KEYS = TokenKeys({"k1": b"k" * 32, "k2": b"j" * 32}, active="k1")


def profile(text: str, name: str = "p", keys: TokenKeys = KEYS) -> Profile:
    return parse_profile(f"profile: {name}\n{text}", Path(f"/virtual/{name}.yaml"), keys)


def example(name: str, keys: TokenKeys = KEYS) -> Profile:
    return load_profiles(PROFILES_DIR, keys).get(name)


def mask(
    profiles: Profile | Sequence[Profile],
    data: bytes,
    *,
    content_type: str | None = "application/x-ndjson",
    key: str = "trace.jsonl",
    encoding: str | None = None,
    limits: Limits | None = None,
) -> tuple[bytes, MaskSummary]:
    chosen = [profiles] if isinstance(profiles, Profile) else list(profiles)
    masker = Masker(
        chosen,
        content_type=content_type,
        content_encoding=encoding,
        key=key,
        limits=limits or Limits(),
    )
    return masker.mask_bytes(data), masker.summary


def mask_chunks(
    profiles: Sequence[Profile],
    chunks: Sequence[bytes],
    *,
    content_type: str | None = "application/x-ndjson",
    key: str = "trace.jsonl",
    encoding: str | None = None,
    limits: Limits | None = None,
) -> tuple[bytes, MaskSummary]:
    """Through the async streaming API, with the given chunking."""
    masker = Masker(
        list(profiles),
        content_type=content_type,
        content_encoding=encoding,
        key=key,
        limits=limits or Limits(),
    )

    async def source() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    async def run() -> bytes:
        return b"".join([piece async for piece in masker.transform(source())])

    return asyncio.run(run()), masker.summary


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
