"""Record rules through the masking worker pool: a body large enough to be
cut into windows gives the same output, counts and line numbers as inline
(record-rule plans run in one worker: windows do not know line numbers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from s3gate.masking.pool import MaskingPool
from s3gate.masking.pooled import WINDOW, PooledMasker
from s3gate.transform.engine import Masker
from s3gate.transform.settings import Limits
from tests.unit.masking.test_pool import PROFILES, _run

GOOD = b'{"trace_id":"t","step":%d,"user":"alice@example.com","pad":"%s"}\n'
BAD = b'{"step":%d,"note":"CANARY"}\n'


@pytest.fixture
async def pool() -> AsyncIterator[MaskingPool]:
    p = MaskingPool(2)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def test_pooled_record_rules_equal_inline(pool: MaskingPool) -> None:
    pad = b"x" * 200
    data = b"".join(BAD % i if i % 97 == 0 else GOOD % (i, pad) for i in range(20_000))
    assert len(data) > 3 * WINDOW  # big enough to be windowed without record rules
    profiles = [PROFILES.get("write-validated")]
    kw = {
        "content_type": "application/x-ndjson",
        "content_encoding": None,
        "key": "t.jsonl",
        "limits": Limits(),
    }
    inline = Masker(profiles, **kw)  # type: ignore[arg-type]
    pooled = PooledMasker(pool, profiles, **kw)  # type: ignore[arg-type]
    out = await _run(pooled, data)
    assert out == await _run(inline, data)
    assert b"CANARY" not in out
    assert pooled.summary == inline.summary
    expected = [i + 1 for i in range(20_000) if i % 97 == 0]
    assert pooled.summary.rejected_lines == {"write-validated:trace-shape": expected[:1000]}
    assert pooled.summary.records_rejected == len(expected)
