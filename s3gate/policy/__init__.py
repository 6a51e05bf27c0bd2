"""Access policy: Cedar decisions with obligations, built-in guards, hot reload.

Kept free of imports on purpose: `s3gate.config` imports
`s3gate.policy.settings`, and a heavy package `__init__` would make that a cycle.
"""
