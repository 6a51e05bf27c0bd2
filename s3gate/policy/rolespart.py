"""The roles file as part of the policy bundle.

`roles.yaml` lives beside the access policies and is hashed into the bundle,
so it loads from the same file snapshot and reloads with them, atomically: a
bad roles file rejects the whole new bundle and the old one stays. STS takes
the roles of the bundle in force."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from s3gate.identity.roles import MAX_FILE_BYTES, RoleBook, RolesError
from s3gate.policy.source import BundleError, Problem

PART = "roles"
FILE = "roles.yaml"


class RolesPart:
    name = PART

    def __init__(self, known_issuers: Collection[str]) -> None:
        self._issuers = tuple(known_issuers)

    def load(self, files: Mapping[str, bytes]) -> RoleBook:
        data = files.get(FILE)
        if data is None:
            raise BundleError([Problem(FILE, None, "no roles file in the policy directory")])
        if len(data) > MAX_FILE_BYTES:
            raise BundleError([Problem(FILE, None, "roles file too large")])
        try:
            return RoleBook.parse_text(data.decode("utf-8"), FILE, known_issuers=self._issuers)
        except (RolesError, UnicodeDecodeError) as exc:
            raise BundleError([Problem(FILE, None, str(exc))]) from exc
