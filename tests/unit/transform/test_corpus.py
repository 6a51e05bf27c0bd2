"""Recall and false positives on synthetic traces (tests/tracegen.py): every
labelled value is masked, every benign look-alike survives."""

from __future__ import annotations

import gzip

import pytest

from tests.tracegen import KINDS_WRITE_DEFAULT, generate, json_forms
from tests.unit.transform.helpers import example, mask, mask_chunks, split


@pytest.mark.parametrize("name", ["write-default", "analyst-view"])
def test_every_labelled_value_masked_and_benign_values_kept(name: str) -> None:
    data, labels = generate(900, seed=11, pii_rate=0.6)
    out, summary = mask(example(name), data)
    text = out.decode()
    leaked = [
        (kind, value)
        for kind, value in labels.secrets
        if kind in KINDS_WRITE_DEFAULT and any(form in text for form in json_forms(value))
    ]
    lost = [v for v in labels.benign if not any(form in text for form in json_forms(v))]
    assert len(labels.secrets) > 500 and len(labels.benign) > 5000
    assert leaked == []
    assert lost == []
    assert summary.records == 900


def test_corpus_is_chunking_independent_and_gzip_safe() -> None:
    data, _ = generate(150, seed=3, pii_rate=0.5)
    whole, _ = mask(example("write-default"), data)
    for size in (1000, 4093, 65536):
        assert mask_chunks([example("write-default")], split(data, size))[0] == whole
    packed = gzip.compress(data)
    out, _ = mask_chunks([example("write-default")], split(packed, 5000), encoding="gzip")
    assert gzip.decompress(out) == whole
