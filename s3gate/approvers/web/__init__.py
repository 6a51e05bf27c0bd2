"""The approvals web page under `/_s3gate/approvals` (docs/approvals.md, "The web page")."""
