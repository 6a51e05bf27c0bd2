"""The writing side of the audit trail, run by the gateway: events built
(`builders`), made durable in the local spool (`segments`, `recovery`,
`spool`: `AuditSpool`), sealed into signed batches and shipped (`state`,
`chaintail`; `seal`: one batch sealed into the chain and uploaded;
`shipper`: the loop that decides when, and retries), and `log` (`AuditLog`,
what the gateway holds).

Shares the formats at `s3gate.audit` (events, canonical, batch, manifest,
keys, layout, bucket) with the verifying side, and never imports it.
"""
