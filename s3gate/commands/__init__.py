"""The subcommands of the `s3gate` CLI beside `serve` and `dev`: one module
per tool (`audit`, `approvals`, `policy`, `mask`, `token-keys`, `views`).

They sit at the top of the layering with `cli.py` (docs/architecture.md):
a tool may load the full settings and use any box, while the boxes they use
never import them."""
