"""`Upstream` over a real S3 endpoint (AWS, MinIO, Ceph RGW, moto …).

Module map: `upstream` (`S3Upstream`, one S3 call per method, assembled from
one mixin per group of calls on the shared state of `calls`: `buckets`,
`listing`, `objects` (with tags), `deletes`, `multipart`), `addressing`
(endpoint, path/virtual-host style, exact URL encoding), `signer` (SigV4 with
botocore's S3 signer), `http` (pooled session, signed requests, streaming
bodies, error mapping), `xml` (the XML the store answers with and the bodies
we send it), `versions` (the XML of bucket versioning, version listings and
deletes by version), `headers` (stored metadata and conditions out,
`ObjectHead` back).
"""

from __future__ import annotations

from s3gate.upstream.s3.upstream import S3Upstream

__all__ = ["S3Upstream"]
