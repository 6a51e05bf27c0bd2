"""Masking on the data path: which profiles apply, spooling masked output,
read views, and masked multipart uploads. The masking engine itself is
`s3gate.transform`."""
