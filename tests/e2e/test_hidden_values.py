"""Values hidden by escapes or invisible characters, end to end: a trace
writer (`write-default`) PUTs with boto3 a text or JSON body whose canary
shows only once `\\u0040` is undone or a zero-width space removed. The
gateway refuses it (403 AccessDenied naming the rule) and moto, read
directly, holds nothing under the key. A body whose escapes hide nothing is
stored byte for byte (docs/masking.md, "Escapes and invisible characters").
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.canaries import CARD, EMAIL
from tests.e2e.harness import Gateway
from tests.e2e.test_inspect_or_refuse import _absent, _stored
from tests.e2e.test_masking import BUCKET
from tests.e2e.test_masking import gw as gw  # the same fixture: a gateway of this module's own

HIDDEN: dict[str, tuple[bytes, str, str]] = {
    "text/plain JSON line, @ escaped": (
        b'{"t":"%s"}\n' % EMAIL.replace("@", "\\u0040").encode(),
        "text/plain",
        "write-default:email",
    ),
    "JSON, zero-width space in a card": (
        json.dumps({"cc": "\u200b".join(CARD[i : i + 4] for i in range(0, 16, 4))}).encode(),
        "application/json",
        "write-default:credit_card",
    ),
    "JSON document in a JSON string": (
        b'{"args":"{\\"e\\":\\"%s\\"}"}' % EMAIL.replace("@", "\\\\u0040").encode(),
        "application/json",
        "write-default:email",
    ),
}


@pytest.mark.parametrize("form", sorted(HIDDEN))
def test_hidden_value_is_refused_and_nothing_stored(gw: Gateway, direct: Any, form: str) -> None:
    body, ctype, rule = HIDDEN[form]
    key = f"hid{uuid.uuid4().hex[:10]}/trace"
    with pytest.raises(ClientError) as caught:
        gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=ctype)
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert rule in error["Message"]
    assert "jane" not in error["Message"]
    assert _absent(direct, key)


def test_escapes_that_hide_nothing_are_stored_as_sent(gw: Gateway, direct: Any) -> None:
    body = b'{"t":"caf\\u00e9 \\u200d ok"}\n'
    key = f"hid{uuid.uuid4().hex[:10]}/clean.txt"
    gw.client("writer").put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/plain")
    at_rest, _ = _stored(direct, key)
    assert at_rest == body
