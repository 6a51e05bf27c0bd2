"""The built-in detector library. Profiles enable detectors by id.

Each entry carries a precise Python pattern, a hand-written hyperscan
prefilter that is a superset of it on raw bytes (JSON-escaped or not; see
`detectors`), its validator and its own positive and negative examples,
which `check_examples` runs. Patterns are bounded so that one match never
runs away across a large blob.
"""

from __future__ import annotations

from s3gate.transform.detectors import DetectorSpec
from s3gate.transform.library_patterns import PEM_MAX_CHARS
from s3gate.transform.library_pii import PII_SPECS
from s3gate.transform.library_secrets import SECRET_SPECS

__all__ = ["BUILTINS", "PEM_MAX_CHARS"]

BUILTINS: dict[str, DetectorSpec] = {spec.id: spec for spec in (*PII_SPECS, *SECRET_SPECS)}
