"""AWS Signature Version 4 on the server side: parse, verify, decode, check.

`parse_request_auth` reads what the client sent, `verify_request` checks it
against the secret, `open_body` wraps the request body so that nothing
unverified completes. See each module for the details.
"""

from s3gate.sigv4.auth import SigV4Auth, parse_request_auth
from s3gate.sigv4.body import VerifiedBody, open_body
from s3gate.sigv4.checksums import ALGORITHMS, Checksum, new_checksum
from s3gate.sigv4.chunked import ChunkedDecoder
from s3gate.sigv4.verify import SigningContext, verify_request

__all__ = [
    "ALGORITHMS",
    "Checksum",
    "ChunkedDecoder",
    "SigV4Auth",
    "SigningContext",
    "VerifiedBody",
    "new_checksum",
    "open_body",
    "parse_request_auth",
    "verify_request",
]
