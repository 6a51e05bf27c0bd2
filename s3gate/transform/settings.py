"""Settings of the masking engine (`masking:` in the YAML file) and the
limits one masking run works under."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from s3gate.configbase import Secret, Section

MiB = 1024 * 1024


class MaskingSettings(Section):
    # Profiles are the `masking/*.yaml` files of the policy directory
    # (`policy.dir`), loaded and reloaded with the policies as one bundle.
    # Token keys as JSON: {"active": "k2", "keys": {"k2": "<base64>", "k1": …}}.
    # Unset: a development key file is generated under `data_dir` on first use.
    token_keys: Secret | None = None
    # A JSONL record or a text line larger than this refuses the object.
    max_record_bytes: int = Field(default=16 * MiB, ge=1024)
    # A JSON document (parsed whole) larger than this refuses the object.
    max_document_bytes: int = Field(default=16 * MiB, ge=1024)
    # Input is cut into blocks of about this size (at line ends) for scanning.
    block_bytes: int = Field(default=1 * MiB, ge=4096, le=64 * MiB)
    # A compressed body (declared or sniffed) that inflates past this size, or
    # past this many times its own size once it is over 1 MiB, is refused:
    # decompression bombs cost a few megabytes of work.
    max_inflated_bytes: int = Field(default=16 * 1024 * MiB, ge=MiB)
    max_inflation_ratio: int = Field(default=200, ge=2)
    # Compression inside compression is undone up to this many layers in all.
    max_coding_layers: int = Field(default=3, ge=1, le=8)
    # Masked read views kept on this replica's disk (least recently used out).
    view_cache_bytes: int = Field(default=2048 * MiB, ge=0)
    # Parts of masked multipart uploads wait (encrypted) in `<bucket>/.s3gate/mpu/`;
    # uploads neither completed nor aborted are removed after this long.
    staged_upload_expiry_seconds: int = Field(default=7 * 86400, ge=3600)
    # A Complete of a masked upload still running after this long answers 200
    # and sends a space this often until its result document (as S3 does).
    complete_keepalive_seconds: float = Field(default=5.0, gt=0, le=60)
    # A masked whole larger than this goes to the store as a multipart upload
    # of its own, in parts of `upstream_part_bytes` (a store takes at most
    # 5 GiB in one PUT); see masking/upstreamput.py.
    upstream_multipart_above_bytes: int = Field(default=256 * MiB, ge=5 * MiB, le=5 * 1024 * MiB)
    upstream_part_bytes: int = Field(default=64 * MiB, ge=5 * MiB, le=5 * 1024 * MiB)

    # Masking worker processes (the engine runs beside the event loop); unset:
    # the cores this process may use; 0: inline on the event loop.
    workers: int | None = Field(default=None, ge=0, le=256)

    def limits(self) -> Limits:
        return Limits(
            max_record_bytes=self.max_record_bytes,
            max_document_bytes=self.max_document_bytes,
            block_bytes=self.block_bytes,
            max_inflated_bytes=self.max_inflated_bytes,
            max_inflation_ratio=self.max_inflation_ratio,
            max_coding_layers=self.max_coding_layers,
        )


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int = 16 * MiB
    max_document_bytes: int = 16 * MiB
    block_bytes: int = 1 * MiB
    max_inflated_bytes: int = 16 * 1024 * MiB
    max_inflation_ratio: int = 200
    max_coding_layers: int = 3
