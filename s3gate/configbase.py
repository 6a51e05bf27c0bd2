"""The building blocks of settings, in a module that imports nothing from
s3gate: subsystem settings (`identity.settings`, …) build on them and
`config` assembles the sections, without an import cycle."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

KiB = 1024
MiB = 1024 * KiB


class ConfigError(Exception):
    """A configuration problem; the message names the key(s) and reason(s)."""


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Secret(Section):
    """A secret read from exactly one place: a file, an environment variable,
    or (for development only) inline."""

    file: Path | None = None
    env: str | None = None
    value: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _one_source(self) -> Secret:
        given = [x for x in (self.file, self.env, self.value) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of file, env, value")
        return self

    def resolve(self) -> str:
        if self.value is not None:
            return self.value
        if self.env is not None:
            found = os.environ.get(self.env)
            if not found:
                raise ConfigError(f"environment variable {self.env} is not set")
            return found
        assert self.file is not None
        try:
            return self.file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {self.file}: {exc.strerror}") from exc
