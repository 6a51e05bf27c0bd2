"""Masking profiles as part of the policy bundle.

Profiles are read from the same file snapshot as the Cedar policies, so a
reload swaps both at once: a request sees the policies and the profiles of
one bundle. A policy naming a profile that does not exist fails closed at
request time (InternalError); the bundle is rejected before that, at load
time, because `MaskingPart.check_policies` reads the `@mask` names from the
parsed policies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from s3gate import errors
from s3gate.policy.cedar import Bundle
from s3gate.policy.source import BundleError, PolicyInfo, Problem
from s3gate.transform.profile import MaskingProfiles, Profile, ProfileError, profiles_from_texts
from s3gate.transform.tokenkeys import TokenKeys

log = logging.getLogger("s3gate.masking")
PART = "masking"
FOLDER = "masking/"


class MaskingPart:
    """The bundle part that parses `masking/*.yaml` into MaskingProfiles."""

    name = PART

    def __init__(self, keys: TokenKeys) -> None:
        self._keys = keys

    def load(self, files: Mapping[str, bytes]) -> MaskingProfiles:
        texts: dict[Path, str] = {}
        problems: list[Problem] = []
        for rel, data in files.items():
            if rel.startswith(FOLDER) and PurePosixPath(rel).suffix in (".yaml", ".yml"):
                try:
                    texts[Path(rel)] = data.decode("utf-8")
                except UnicodeDecodeError:
                    problems.append(Problem(rel, None, "not UTF-8"))
        if problems:
            raise BundleError(problems)
        try:
            profiles = profiles_from_texts(texts, self._keys)
        except ProfileError as exc:
            raise BundleError([Problem(where, None, why) for where, why in exc.problems]) from exc
        return profiles

    def check_policies(self, loaded: object, policies: Sequence[PolicyInfo]) -> list[Problem]:
        """Every `@mask` of the parsed policies names one of these profiles."""
        from s3gate.masking.checks import unknown_masks  # checks imports this module

        if not isinstance(loaded, MaskingProfiles):
            return [Problem(PART, None, "no masking profiles")]
        return unknown_masks(policies, loaded)


def profiles_for(bundle: Bundle, names: Sequence[str]) -> list[Profile]:
    """The profiles a decision's `@mask` obligations name, from its bundle."""
    loaded = bundle.extras.get(PART)
    if not isinstance(loaded, MaskingProfiles):
        log.error("a policy requires masking but the bundle has no masking profiles")
        raise errors.InternalError()
    try:
        return [loaded.get(name) for name in names]
    except KeyError as exc:
        log.error("policy names an unknown masking profile: %s", exc)
        raise errors.InternalError() from exc
