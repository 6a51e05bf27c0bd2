"""The engine's output, pinned: seeded corpora of each density masked with
each example profile, as JSONL and as text, must give exactly the bytes (and
counts) the engine gave before its performance work (issue 13). A change
that alters any output byte fails here; one that means to must say why and
update the digests."""

from __future__ import annotations

import hashlib
import json

import pytest

from s3gate import errors
from tests.tracegen import generate
from tests.unit.transform.helpers import example, mask

CORPORA = {
    "dense": {"pii_rate": 1.0, "min_values": 5},
    "pii20": {"pii_rate": 0.2},
    "pii5": {"pii_rate": 0.05},
    "clean": {"pii_rate": 0.0},
}
# "a+b": both profiles composed into one plan.
PROFILES = ("write-default", "analyst-view", "write-strict", "analyst-view+write-default")
CONTENT = {
    "jsonl": ("application/x-ndjson", "t.jsonl"),
    "json": ("application/json", "t.json"),  # the records as one JSON array
    "text": ("text/plain", "t.txt"),
}

# "corpus profile content" → SHA-256 (first 96 bits, hex) of the output and
# of the summary's counts, or the refusal's S3 code and the digest of its
# message. Computed with the engine of main at ce657c2.
GOLDEN: dict[str, str] = {
    "dense write-default jsonl": "a77dc0f4a1fdfb50788d34e7 a2e0d3e910ca50622d28c818",
    "dense write-default json": "88378800c3330ef82b28ed08 d652e801c65e38c2e30de35c",
    "dense write-default text": "0b3d8f0930c7b1d7ba7a85a0 456c22f17c43ee14253ed479",
    "dense analyst-view jsonl": "3a0728b9756d65fb7d67cca9 ef39354cf0f80d34de480f44",
    "dense analyst-view json": "d35594763f95ac5bcc11689d 643d5939ac36e324809852c8",
    "dense analyst-view text": "93ba89f3ba08c81a6616636f ecfc38c1a70366136a084997",
    "dense write-strict jsonl": "AccessDenied 7ee92bab17a8a426476e0ffe",
    "dense write-strict json": "AccessDenied 7ee92bab17a8a426476e0ffe",
    "dense write-strict text": "AccessDenied 7ee92bab17a8a426476e0ffe",
    "dense analyst-view+write-default jsonl": "a77dc0f4a1fdfb50788d34e7 2def05c7bcae734a4d89eecc",
    "dense analyst-view+write-default json": "88378800c3330ef82b28ed08 5c670932685b75ae938748da",
    "dense analyst-view+write-default text": "0b3d8f0930c7b1d7ba7a85a0 77f59b44614a1d0b57d9185a",
    "pii20 write-default jsonl": "46c9099ad50ec1a04b453757 ec1f8d79b398424a288bf1fa",
    "pii20 write-default json": "df3638ecab0da0e86b7967cb bfcc2c0d23088adea2800636",
    "pii20 write-default text": "9d505d25ebc34c8bcdf8d773 19fa3cfaeca3cf966fa21332",
    "pii20 analyst-view jsonl": "0ce217b0179aba6ac9f49c41 928918ae18c6cffe0b53b4a0",
    "pii20 analyst-view json": "cb93ffed00f9d16f2a26fbc1 6c8d1e008b74495309189de2",
    "pii20 analyst-view text": "d4a4692ab9e476eeedaf2e5d 386de0ce3e49f0ce1197492e",
    "pii20 write-strict jsonl": "AccessDenied 7ee92bab17a8a426476e0ffe",
    "pii20 write-strict json": "AccessDenied 7ee92bab17a8a426476e0ffe",
    "pii20 write-strict text": "AccessDenied 7ee92bab17a8a426476e0ffe",
    "pii20 analyst-view+write-default jsonl": "46c9099ad50ec1a04b453757 bae62373fa3914ec0a5cd857",
    "pii20 analyst-view+write-default json": "df3638ecab0da0e86b7967cb 8fea539d0548c39b29399d1a",
    "pii20 analyst-view+write-default text": "9d505d25ebc34c8bcdf8d773 0195c05fac1e69778a8e7308",
    "pii5 write-default jsonl": "ba32d7d01c0a11ae730d72ce 3bb69693e0b75dda1966b7ae",
    "pii5 write-default json": "d42fab15001235c3c613f5dc 2949428660b87de7b671c9cb",
    "pii5 write-default text": "82d94e8c80cba51fafc29b19 ae696e7b9e726ce29bff2a94",
    "pii5 analyst-view jsonl": "ba32d7d01c0a11ae730d72ce 3e8515d4e80c12cb0b932db9",
    "pii5 analyst-view json": "d42fab15001235c3c613f5dc 56d1a7337c3018b982ef5696",
    "pii5 analyst-view text": "82d94e8c80cba51fafc29b19 6f32ccc717dc822a385d4f45",
    "pii5 write-strict jsonl": "9d828a0181acd3d4fa481bf0 8aa33c62dda7ca946173acae",
    "pii5 write-strict json": "41952ca3d5e1bd45931a2936 4beef7d49c754c724358ef7d",
    "pii5 write-strict text": "f8f35cceaaa60dac204e76b0 92249156b3a128583a152f68",
    "pii5 analyst-view+write-default jsonl": "ba32d7d01c0a11ae730d72ce 46607d758a4fc0ad5e4f937c",
    "pii5 analyst-view+write-default json": "d42fab15001235c3c613f5dc f7417887a4091073a0c4ab9d",
    "pii5 analyst-view+write-default text": "82d94e8c80cba51fafc29b19 3edf884e3c84609dd089b055",
    "clean write-default jsonl": "7c5e9af97dbb731bc9892e9d 0ea34efbe1d4eadb08e56ab3",
    "clean write-default json": "19907ffeab62c861955f486f 1225569c09e250a3c3248f43",
    "clean write-default text": "7c5e9af97dbb731bc9892e9d 14a3a61b33cd8c49de76fca7",
    "clean analyst-view jsonl": "7c5e9af97dbb731bc9892e9d 681d4178902573e2910cb95c",
    "clean analyst-view json": "19907ffeab62c861955f486f f2b1f4f9c9839534c158a606",
    "clean analyst-view text": "7c5e9af97dbb731bc9892e9d 57ecc1594dc28e398c78d2a1",
    "clean write-strict jsonl": "7c5e9af97dbb731bc9892e9d 86b0a2a144363d6b98cc768b",
    "clean write-strict json": "19907ffeab62c861955f486f 1960ac4ae7dbdb49bcdcbfed",
    "clean write-strict text": "7c5e9af97dbb731bc9892e9d ec990cc31050fcdde1c1827b",
    "clean analyst-view+write-default jsonl": "7c5e9af97dbb731bc9892e9d 1888a2e14834dd69d2c7b4f1",
    "clean analyst-view+write-default json": "19907ffeab62c861955f486f d7ba96db44c3993b52c3797a",
    "clean analyst-view+write-default text": "7c5e9af97dbb731bc9892e9d 8040e0ee0cb816bea8ec7444",
}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def outcome(corpus: str, profile: str, content: str) -> str:
    data, _ = generate(150, seed=21, **CORPORA[corpus])  # type: ignore[arg-type]
    content_type, key = CONTENT[content]
    if content == "json":
        data = b"[\n" + b",\n".join(data.splitlines()) + b"\n]\n"
    try:
        chosen = [example(name) for name in profile.split("+")]
        out, summary = mask(chosen, data, content_type=content_type, key=key)
    except errors.S3Error as exc:
        return f"{exc.code} {_digest(str(exc).encode())}"
    counts = json.dumps(summary.as_dict(), sort_keys=True).encode()
    return f"{_digest(out)} {_digest(counts)}"


CASES = [(c, p, k) for c in CORPORA for p in PROFILES for k in CONTENT]


@pytest.mark.parametrize(("corpus", "profile", "content"), CASES)
def test_output_is_unchanged(corpus: str, profile: str, content: str) -> None:
    assert outcome(corpus, profile, content) == GOLDEN[f"{corpus} {profile} {content}"]


def test_the_corpora_differ() -> None:
    """The pins cover what they say: the dense corpus masks something in every
    record and the clean one nothing (no pin is of an empty run)."""
    dense = {v for k, v in GOLDEN.items() if k.startswith("dense ")}
    assert len(dense) > 1
    data, labels = generate(150, seed=21, **CORPORA["dense"])  # type: ignore[arg-type]
    assert len(labels.secrets) >= 5 * 150
    _, summary = mask(example("write-default"), data)
    assert summary.records_masked == 150
    _, clean = mask(example("write-default"), generate(150, seed=21, pii_rate=0.0)[0])
    assert clean.replacements == 0
