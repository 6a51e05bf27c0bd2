"""Sans-IO decoder for `Content-Encoding: aws-chunked` request bodies.

Wire format (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
and sigv4-streaming-trailers.html)::

    <hex-size>[;chunk-signature=<64 hex>]\\r\\n<data>\\r\\n      (repeated)
    0[;chunk-signature=<64 hex>]\\r\\n                        (final chunk)
    [<name>:<value>\\r\\n ...  [x-amz-trailer-signature:<64 hex>\\r\\n]]   (trailer modes)
    \\r\\n

botocore, the AWS CLI, the Rust and JS SDKs all end every line with CRLF and
send the closing blank line, so nothing more lenient is accepted. Signed modes
chain each chunk's signature from the previous one, starting at the request
signature; the trailer signature chains from the final (empty) chunk's.

Data is handed out as it arrives (a chunk is verified once its last byte is in),
so memory stays at one line of framing whatever the chunk size. Whoever streams
the output onward must hold back the tail until `finish()` succeeds; VerifiedBody
does that.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from s3gate import errors
from s3gate.sigv4.canonical import EMPTY_SHA256, hmac_hex
from s3gate.sigv4.verify import SigningContext

MAX_LINE = 4096
MAX_TRAILER_SECTION = 16 * 1024
_TRAILER_SIGNATURE = "x-amz-trailer-signature"
_SIZE_LINE = re.compile(rb"([0-9a-fA-F]{1,16})(;.*)?", re.DOTALL)
_SIGNATURE_EXT = re.compile(rb";chunk-signature=([0-9a-f]{64})")
_HEX64 = re.compile(r"[0-9a-f]{64}")

# Decoder states.
_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedDecoder:
    def __init__(
        self,
        *,
        signing: SigningContext | None,
        trailer_expected: bool,
        max_chunk_size: int = 16 * 1024 * 1024,
    ) -> None:
        self._signing = signing
        self._trailer_expected = trailer_expected
        self._max_chunk_size = max_chunk_size
        self._state = _SIZE
        self._line = bytearray()
        self._remaining = 0
        self._chunk_signature = ""
        self._chunk_hash = hashlib.sha256() if signing is not None else None
        self._previous = signing.seed_signature if signing is not None else ""
        self._trailers: dict[str, str] = {}
        self._trailer_signature: str | None = None
        self._trailer_bytes = 0
        self._key = signing.key if signing is not None else b""
        # Constant head of every chunk string-to-sign, built once per request.
        self._chunk_sts_head = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{signing.amz_date}\n{signing.scope}\n" if signing else ""
        )

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        size = len(data)
        pos = 0
        while pos < size:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, size - pos)
                # Hand out a slice, or the caller's own object when it is all payload.
                piece = data if take == size else data[pos : pos + take]
                if self._chunk_hash is not None:
                    self._chunk_hash.update(piece)
                out.append(piece)
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._end_of_chunk_data()
            elif state == _DATA_END:
                need = 2 - len(self._line)
                self._line += data[pos : pos + need]
                pos += min(need, size - pos)
                if len(self._line) == 2:
                    if self._line != b"\r\n":
                        raise errors.InvalidRequest(
                            "aws-chunked framing error: chunk data is not followed by CRLF"
                        )
                    self._line.clear()
                    self._state = _SIZE
            elif state == _DONE:
                raise errors.InvalidRequest("Unexpected data after the end of the aws-chunked body")
            else:
                pos = self._feed_line(data, pos)
        return out

    def finish(self) -> dict[str, str]:
        if self._state != _DONE:
            raise errors.IncompleteBody("The request body terminated unexpectedly")
        return dict(self._trailers)

    # -- framing lines -------------------------------------------------------

    def _feed_line(self, data: bytes, pos: int) -> int:
        limit = MAX_LINE if self._state == _SIZE else MAX_TRAILER_SECTION - self._trailer_bytes
        end = data.find(b"\n", pos)
        stop = len(data) if end < 0 else end + 1
        if len(self._line) + stop - pos > limit:
            if self._state == _SIZE:
                raise errors.InvalidRequest("aws-chunked chunk-size line is too long")
            raise errors.InvalidRequest("aws-chunked trailer section is too large")
        self._line += data[pos:stop]
        if end < 0:
            return stop
        line = bytes(self._line)
        self._line.clear()
        if not line.endswith(b"\r\n"):
            raise errors.InvalidRequest("aws-chunked framing error: line not terminated by CRLF")
        if self._state == _SIZE:
            self._on_size_line(line[:-2])
        else:
            self._trailer_bytes += len(line)
            self._on_trailer_line(line[:-2])
        return stop

    def _on_size_line(self, line: bytes) -> None:
        match = _SIZE_LINE.fullmatch(line)
        if match is None:
            raise errors.InvalidRequest("aws-chunked framing error: invalid chunk size")
        size = int(match.group(1), 16)
        if size > self._max_chunk_size:
            raise errors.InvalidRequest(
                f"aws-chunked chunk of {size} bytes exceeds the limit of {self._max_chunk_size}"
            )
        if self._signing is not None:
            signature = _SIGNATURE_EXT.fullmatch(match.group(2) or b"")
            if signature is None:
                raise errors.SignatureDoesNotMatch("A chunk signature is missing or malformed.")
            self._chunk_signature = signature.group(1).decode("ascii")
        # Unsigned modes: extensions carry nothing we could verify and are ignored,
        # as HTTP chunk extensions are.
        self._remaining = size
        if size:
            self._state = _DATA
        else:
            self._end_of_chunk_data()
            self._state = _TRAILER

    def _end_of_chunk_data(self) -> None:
        if self._chunk_hash is not None:
            sts = (
                f"{self._chunk_sts_head}{self._previous}\n{EMPTY_SHA256}\n"
                f"{self._chunk_hash.hexdigest()}"
            )
            expected = hmac_hex(self._key, sts)
            if not hmac.compare_digest(expected, self._chunk_signature):
                raise errors.SignatureDoesNotMatch()
            self._previous = expected
            self._chunk_hash = hashlib.sha256()
        self._state = _DATA_END

    # -- trailers --------------------------------------------------------------

    def _on_trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_of_trailers()
            return
        if not self._trailer_expected:
            raise errors.InvalidRequest(
                "aws-chunked body has trailing headers but none were expected"
            )
        if self._trailer_signature is not None:
            raise errors.InvalidRequest("x-amz-trailer-signature must be the last trailing header")
        name_b, sep, value_b = line.partition(b":")
        try:
            name = name_b.decode("ascii").strip().lower()
            value = " ".join(value_b.decode("ascii").split())
        except UnicodeDecodeError:
            raise errors.InvalidRequest("aws-chunked trailing header is not ASCII") from None
        if not sep or not name:
            raise errors.InvalidRequest("aws-chunked trailing header is malformed")
        if name == _TRAILER_SIGNATURE:
            if self._signing is None:
                raise errors.InvalidRequest("Unexpected x-amz-trailer-signature in unsigned body")
            self._trailer_signature = value
            return
        if name in self._trailers:
            raise errors.InvalidRequest(f"Trailing header {name[:64]} was sent more than once")
        self._trailers[name] = value

    def _end_of_trailers(self) -> None:
        if self._signing is not None and self._trailer_expected:
            signature = self._trailer_signature
            if signature is None or not _HEX64.fullmatch(signature):
                raise errors.SignatureDoesNotMatch("The trailer signature is missing or malformed.")
            # Signers hash the trailers as canonical headers: sorted, `name:value\n` each.
            text = "".join(f"{n}:{v}\n" for n, v in sorted(self._trailers.items()))
            sts = (
                f"AWS4-HMAC-SHA256-TRAILER\n{self._signing.amz_date}\n{self._signing.scope}\n"
                f"{self._previous}\n{hashlib.sha256(text.encode('ascii')).hexdigest()}"
            )
            if not hmac.compare_digest(hmac_hex(self._key, sts), signature):
                raise errors.SignatureDoesNotMatch()
        self._state = _DONE
