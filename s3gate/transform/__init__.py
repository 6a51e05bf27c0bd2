"""Streaming content masking: detectors, field rules and operators applied to
JSONL, JSON and text bodies on the way in and on the way out.

Importing this package is cheap on purpose (config imports `settings` from
here); the engine and its hyperscan databases load on first use.
"""
