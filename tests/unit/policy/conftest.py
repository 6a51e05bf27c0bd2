"""Fixtures for the policy tests: the shipped example bundle and throwaway
bundles written to a temporary directory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from s3gate.policy.cedar import Bundle
from s3gate.policy.loader import load_bundle
from s3gate.policy.settings import PolicySettings
from tests.unit.policy.helpers import POLICIES, write_bundle


@pytest.fixture(scope="session")
def example_bundle() -> Bundle:
    return load_bundle(PolicySettings(dir=POLICIES))


@pytest.fixture
def make_bundle(tmp_path: Path) -> Callable[..., Bundle]:
    def make(policies: str | Mapping[str, str], **settings: object) -> Bundle:
        directory = write_bundle(tmp_path / "bundle", policies)
        return load_bundle(PolicySettings(dir=directory, **settings))

    return make
