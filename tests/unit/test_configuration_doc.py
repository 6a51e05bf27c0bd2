"""docs/configuration.md names every setting the gateway accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from s3gate.config import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()


def _keys() -> list[str]:
    out = list(Settings.model_fields)
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            out += [f"{section}.{name}" for name in model.model_fields]
    return out


@pytest.mark.parametrize("key", _keys())
def test_every_setting_is_documented(key: str) -> None:
    name = key.rsplit(".", 1)[-1]
    assert f"`{name}`" in DOC, f"{key} is missing from docs/configuration.md"
