"""The request body as handlers see it: decoded, and verified before it completes.

Every integrity claim the client made is checked against the bytes it sent:
the declared length, the signed payload hash, chunk and trailer signatures,
Content-MD5 and the `x-amz-checksum-*` header or trailer. Most of these can
only be decided at the end of the body, so the iterator always withholds the
most recent piece and releases it only after every check passed. A consumer
streaming to the store therefore never delivers the complete declared body when
something is wrong; it sees the S3 error instead of the last bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence

from s3gate import errors
from s3gate.digests import OffloadedDigests
from s3gate.s3.numbers import whole_number
from s3gate.sigv4.auth import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    SigV4Auth,
)
from s3gate.sigv4.checksums import Checksum, decode_digest, new_checksum, normalise_algorithm
from s3gate.sigv4.chunked import ChunkedDecoder
from s3gate.sigv4.verify import SigningContext

_CHECKSUM_PREFIX = "x-amz-checksum-"
# Headers under the checksum prefix that name an algorithm or mode rather than carry a value.
_CHECKSUM_META = frozenset(
    {"x-amz-checksum-algorithm", "x-amz-checksum-type", "x-amz-checksum-mode"}
)
_ONE_CHECKSUM = (
    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
)
_STREAMING = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
_TRAILER_MODES = frozenset({STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})


class VerifiedBody:
    length: int | None
    sha256_hex: str | None
    md5_b64: str | None  # only when a Content-MD5 header was checked
    bytes_received: int
    # (algorithm, base64 digest) of the client's x-amz-checksum-* header or
    # trailer, set once the whole body has been received and it matched.
    verified_checksum: tuple[str, str] | None

    def __init__(
        self,
        source: AsyncIterator[bytes],
        *,
        length: int | None,
        decoder: ChunkedDecoder | None,
        payload_sha256: str | None,
        content_md5: bytes | None,
        header_checksum: tuple[Checksum, bytes] | None,
        trailer_checksum: tuple[str, Checksum] | None,
    ) -> None:
        self.length = length
        self.sha256_hex = None
        self.md5_b64 = None
        self.bytes_received = 0
        self.verified_checksum = None
        self._source = source
        self._decoder = decoder
        self._payload_sha256 = payload_sha256
        self._content_md5 = content_md5
        self._header_checksum = header_checksum
        self._trailer_checksum = trailer_checksum
        # At most one of the two exists (open_body refuses both), so one running checksum.
        self._checksum: Checksum | None = None
        if header_checksum is not None:
            self._checksum = header_checksum[0]
        elif trailer_checksum is not None:
            self._checksum = trailer_checksum[1]
        self._sha256 = hashlib.sha256()
        # MD5 costs twice SHA-256's time here: only when a Content-MD5 is checked.
        self._md5 = hashlib.md5(usedforsecurity=False) if content_md5 is not None else None
        self._digests = OffloadedDigests(
            [d for d in (self._sha256, self._md5, self._checksum) if d is not None]
        )
        self._limit: int | None = None
        self._started = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started:
            raise RuntimeError("the request body can only be consumed once")
        self._started = True
        return self._pieces()

    async def read_all(self, limit: int) -> bytes:
        if self.length is not None and self.length > limit:
            raise errors.MaxMessageLengthExceeded()
        self._limit = limit
        return b"".join([piece async for piece in self])

    async def _pieces(self) -> AsyncIterator[bytes]:
        held: bytes | None = None
        decoder = self._decoder
        async for raw in self._source:
            if not raw:
                continue
            for piece in decoder.feed(raw) if decoder is not None else (raw,):
                if not piece:
                    continue
                self._account(piece)
                await self._digests.feed(piece)
                if held is not None:
                    yield held
                held = piece
        trailers = decoder.finish() if decoder is not None else {}
        await self._digests.finish()
        self._verify_at_end(trailers)
        if held is not None:
            yield held

    def _account(self, piece: bytes) -> None:
        self.bytes_received += len(piece)
        if self.length is not None and self.bytes_received > self.length:
            raise errors.InvalidRequest("The request body is longer than its declared length")
        if self._limit is not None and self.bytes_received > self._limit:
            raise errors.MaxMessageLengthExceeded()

    def _verify_at_end(self, trailers: dict[str, str]) -> None:
        # Digests describe what was received, so the audit trail has them even
        # when a check below rejects the body.
        self.sha256_hex = self._sha256.hexdigest()
        md5 = self._md5.digest() if self._md5 is not None else None
        if md5 is not None:
            self.md5_b64 = base64.b64encode(md5).decode("ascii")
        if self.length is not None and self.bytes_received < self.length:
            raise errors.IncompleteBody()
        if self._payload_sha256 is not None and not hmac.compare_digest(
            self.sha256_hex, self._payload_sha256
        ):
            raise errors.XAmzContentSHA256Mismatch()
        if (
            self._content_md5 is not None
            and md5 is not None
            and not hmac.compare_digest(md5, self._content_md5)
        ):
            raise errors.BadDigest("The Content-MD5 you specified did not match what we received.")
        if self._header_checksum is not None:
            checksum, expected = self._header_checksum
            _compare(checksum, expected)
        declared = None
        if self._trailer_checksum is not None:
            declared, checksum = self._trailer_checksum
            value = trailers.get(declared)
            if value is None:
                raise errors.IncompleteBody(
                    f"The declared trailing header {declared} was not sent."
                )
            _compare(checksum, decode_digest(checksum.algorithm, value))
        if any(name != declared for name in trailers):
            # Nothing verifies an undeclared trailer; refuse rather than ignore it.
            raise errors.InvalidRequest(
                "The body carried trailing headers not named in x-amz-trailer"
            )
        if self._checksum is not None:
            self.verified_checksum = (self._checksum.algorithm, self._checksum.b64digest())

    @property
    def checksum_algorithm(self) -> str | None:
        """The algorithm of the client's x-amz-checksum-* header or trailer."""
        return self._checksum.algorithm if self._checksum is not None else None

    @property
    def declared_checksum(self) -> tuple[str, str] | None:
        """(algorithm, base64 digest) of an x-amz-checksum-* *header*: known
        before the body is read (a trailer's value is not)."""
        if self._header_checksum is None:
            return None
        checksum, expected = self._header_checksum
        return checksum.algorithm, base64.b64encode(expected).decode("ascii")


def _compare(checksum: Checksum, expected: bytes) -> None:
    actual = base64.b64decode(checksum.b64digest())
    if not hmac.compare_digest(actual, expected):
        raise errors.BadDigest(
            f"The {checksum.algorithm} you specified did not match the calculated checksum."
        )


def open_body(
    auth: SigV4Auth | None,
    signing: SigningContext | None,
    headers: Sequence[tuple[str, str]],
    source: AsyncIterator[bytes],
) -> VerifiedBody:
    hdrs: dict[str, str] = {}
    checksum_headers: list[tuple[str, str]] = []
    for name, value in headers:
        if name.startswith(_CHECKSUM_PREFIX) and name not in _CHECKSUM_META:
            checksum_headers.append((name, value))
        hdrs.setdefault(name, value)

    mode = auth.payload_hash if auth is not None else UNSIGNED_PAYLOAD
    decoder: ChunkedDecoder | None = None
    if mode in _STREAMING:
        length = _length(
            hdrs.get("x-amz-decoded-content-length"), missing=errors.MissingContentLength
        )
        signed = mode != STREAMING_UNSIGNED_TRAILER
        if signed and signing is None:
            raise errors.InternalError(
                "A signed aws-chunked body needs the request signing context"
            )
        decoder = ChunkedDecoder(
            signing=signing if signed else None, trailer_expected=mode in _TRAILER_MODES
        )
    else:
        length = _length(hdrs.get("content-length"), missing=None)

    if len(checksum_headers) > 1:
        raise errors.InvalidRequest(_ONE_CHECKSUM)
    header_checksum: tuple[Checksum, bytes] | None = None
    if checksum_headers:
        name, value = checksum_headers[0]
        checksum = new_checksum(name[len(_CHECKSUM_PREFIX) :])
        header_checksum = (checksum, decode_digest(checksum.algorithm, value))

    trailer_checksum = _trailer(hdrs.get("x-amz-trailer"), mode, header_checksum)
    return VerifiedBody(
        source,
        length=length,
        decoder=decoder,
        payload_sha256=mode if mode not in _STREAMING and mode != UNSIGNED_PAYLOAD else None,
        content_md5=_content_md5(hdrs.get("content-md5")),
        header_checksum=header_checksum,
        trailer_checksum=trailer_checksum,
    )


def _length(value: str | None, *, missing: type[errors.S3Error] | None) -> int | None:
    if value is None:
        if missing is not None:
            raise missing()
        return None
    length = whole_number(value.strip())
    if length is None:
        raise errors.InvalidArgument("The declared content length is not a non-negative integer")
    return length


def _content_md5(value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidDigest("The Content-MD5 you specified was invalid.") from None
    if len(digest) != 16:
        raise errors.InvalidDigest("The Content-MD5 you specified was invalid.")
    return digest


def _trailer(
    value: str | None, mode: str, header_checksum: tuple[Checksum, bytes] | None
) -> tuple[str, Checksum] | None:
    """The checksum a trailer will carry, or None when there is no trailer to check."""
    if value is None:
        return None
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if len(names) != 1 or not names[0].startswith(_CHECKSUM_PREFIX):
        raise errors.InvalidRequest("x-amz-trailer must name exactly one x-amz-checksum-* header")
    algorithm = normalise_algorithm(names[0][len(_CHECKSUM_PREFIX) :])
    if header_checksum is not None:
        if header_checksum[0].algorithm != algorithm or mode in _TRAILER_MODES:
            raise errors.InvalidRequest(_ONE_CHECKSUM)
        # The AWS SDK for Java v2 sends the checksum as a header, still announces it
        # in x-amz-trailer and then sends no trailer (non-trailer payload mode); the
        # header value is what gets verified.
        return None
    if mode not in _TRAILER_MODES:
        raise errors.InvalidRequest(
            "x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256 value"
        )
    return names[0], new_checksum(algorithm)
