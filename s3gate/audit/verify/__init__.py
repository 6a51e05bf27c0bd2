"""The verifying side of the audit trail, run by auditors with their own
credentials (`s3gate audit verify|show`): `reader` (the audit bucket, read
only), `verifier` and `batchcheck` (the chains, signatures and batches),
`report` (findings), `show` (replay of events).

Reads the formats at `s3gate.audit` (events, canonical, batch, manifest,
keys, layout, bucket) and never imports the writing side
(`s3gate.audit.write`): verification must not depend on the code it checks.
An import-linter contract in pyproject.toml holds this.
"""
