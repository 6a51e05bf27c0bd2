"""Pattern pieces the built-in detectors share (see `library`)."""

from __future__ import annotations

from s3gate.transform.detectors import Prefilter
from s3gate.transform.validators import IBAN_LENGTHS

P = Prefilter
# What may precede a match that must not continue a word: a non-word byte, or
# in raw JSON an escape such as `\n` (whose `n` is a letter).
_START = rb"(?:^|[^0-9A-Za-z_.+-]|\\[ntr])"
IBAN_COUNTRIES = "|".join(sorted(IBAN_LENGTHS)).encode()
# Longest PEM block body we look for (an 8192-bit RSA key is about 6.5 KB).
PEM_MAX_CHARS = 16384
