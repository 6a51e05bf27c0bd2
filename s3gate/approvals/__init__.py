"""Human approvals: held writes in quarantine, break-glass read grants,
their rules (policies/approvals.yaml) and notifications."""
