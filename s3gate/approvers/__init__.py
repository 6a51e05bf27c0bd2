"""The approvers' surfaces over HTTP: the admin API (`api.py`) that the CLI
drives and the web page (`web/`). They sit above the request path (they use
`authn.py`), while the approvals service they drive (`approvals/`) sits below
the handlers that hand it held writes and grant-based reads."""
