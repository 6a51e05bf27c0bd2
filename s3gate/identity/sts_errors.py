"""Every error an STS client can see: one class per STS error code.

Codes and HTTP statuses are the ones in botocore's STS service model, so an
unmodified SDK raises the modelled exception (for example
`client.exceptions.InvalidIdentityTokenException`). Messages are fixed texts:
why a token was refused (which claim, which key id) goes to the server log at
debug level, never to the client, so the endpoint does not become an oracle
for forging tokens.
"""

from __future__ import annotations

from typing import ClassVar


class StsError(Exception):
    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = (
        "The request processing has failed because of an internal error."
    )
    # "Sender" for the caller's fault, "Receiver" for ours (the STS <Type>).
    fault: ClassVar[str] = "Sender"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(f"{self.code}: {self.message}")


class InternalFailure(StsError):
    fault = "Receiver"


class InvalidIdentityToken(StsError):
    code = "InvalidIdentityToken"
    status = 400
    default_message = "The web identity token that was passed could not be validated."


class ExpiredTokenException(StsError):
    code = "ExpiredTokenException"
    status = 400
    default_message = "The web identity token that was passed is expired or is not valid."


class IDPRejectedClaim(StsError):
    # 403 as in the STS model (not 400): the token is authentic but a claim in
    # it is unusable.
    code = "IDPRejectedClaim"
    status = 403
    default_message = "The identity provider reported that authentication failed."


class IDPCommunicationError(StsError):
    # botocore retries this code by itself (retries/special.py).
    code = "IDPCommunicationError"
    status = 400
    default_message = (
        "The identity provider could not be reached to verify the web identity token. "
        "Try again later."
    )


class AccessDenied(StsError):
    code = "AccessDenied"
    status = 403
    default_message = "Not authorized to perform sts:AssumeRoleWithWebIdentity"


class ValidationError(StsError):
    code = "ValidationError"
    status = 400
    default_message = "The request is invalid."


class InvalidAction(StsError):
    code = "InvalidAction"
    status = 400
    default_message = "The action or operation requested is invalid."


class MissingAction(StsError):
    code = "MissingAction"
    status = 400
    default_message = "The request is missing an action or a required parameter."
