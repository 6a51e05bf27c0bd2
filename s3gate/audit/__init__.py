"""The audit trail: every request and gateway action as a durable, signed,
hash-chained record in a separate bucket (docs/audit.md).

Two sides share the formats kept at this level:

- formats: `events` (the schema), `canonical` (the encoding everything is
  hashed and signed in), `batch` (a batch object), `manifest` (the signed
  manifest), `keys` (signing and public keys), `layout` (where objects
  live), `bucket` (whole-object reads and writes over `Upstream`);
- `write/`, the gateway's side: building events, the durable spool,
  sealing and shipping, `AuditLog`;
- `verify/`, the auditor's side: reading the bucket, verifying the chains,
  the report, `audit show`; it never imports `write/`.

`settings` (AuditSettings), `routes` (GET /_s3gate/audit/keys) and
`commands` (the CLI: `audit verify|show`, `keys …`) sit beside them.

This package module imports nothing, and `settings` only `configbase`, so
`config` can import `s3gate.audit.settings` without a cycle; import from the
submodules.
"""
