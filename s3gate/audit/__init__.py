"""The audit trail: every request and gateway action as a durable, signed,
hash-chained record in a separate bucket (docs/audit.md).

Module map: `settings` (AuditSettings); `events` (the schema) and `builders`
(RequestEvent and the gateway's own events); `canonical` (the encoding
everything is hashed and signed in); `segments`, `recovery`, `spool` (the
durable local spool, group commit); `batch`, `manifest`, `layout`, `keys`,
`state`, `chaintail`, `shipment`, `shipper` (shipping and sealing); `log`
(`AuditLog`, what the gateway holds); `routes` (GET /_s3gate/audit/keys);
`bucket`, `reader`, `verify`, `batchcheck`, `report`, `show`, `commands`
(verification and replay, and the CLI).

This package module imports nothing, and `settings` only `configbase`, so
`config` can import `s3gate.audit.settings` without a cycle; import from the
submodules.
"""
