"""ACLs: only the private ACL is accepted; reads answer it (s3.acl)."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree

from s3gate import errors
from s3gate.s3 import acl
from s3gate.s3.xmldoc import OWNER_ID

XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
OWNER = f'id="{OWNER_ID}"'


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-amz-acl": "private"},
        {"x-amz-acl": "bucket-owner-full-control"},
        {"x-amz-grant-full-control": OWNER},
        {"x-amz-grant-read": f"{OWNER}, {OWNER}"},
    ],
)
def test_private_headers_accepted(headers: dict[str, str]) -> None:
    acl.check_headers(headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-acl": "public-read"},
        {"x-amz-acl": "public-read-write"},
        {"x-amz-acl": "authenticated-read"},
        {"x-amz-acl": "bucket-owner-read"},
        {"x-amz-acl": "log-delivery-write"},
        {"x-amz-acl": "aws-exec-read"},
        {"x-amz-acl": "PRIVATE"},  # canned ACL names are case-sensitive in S3
        {"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
        {"x-amz-grant-read": 'id="someone-else"'},
        {"x-amz-grant-write-acp": f'{OWNER}, emailAddress="x@example.com"'},
        {"x-amz-grant-full-control": "garbage"},
    ],
)
def test_wider_headers_refused(headers: dict[str, str]) -> None:
    with pytest.raises(errors.AccessControlListNotSupported):
        acl.check_headers(headers)


def _policy(grants: str, owner: str = OWNER_ID) -> bytes:
    return (
        '<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Owner><ID>{owner}</ID></Owner><AccessControlList>{grants}</AccessControlList>"
        "</AccessControlPolicy>"
    ).encode()


def _grant(grantee: str, permission: str = "FULL_CONTROL") -> str:
    return f"<Grant><Grantee {XSI} {grantee}</Grantee><Permission>{permission}</Permission></Grant>"


OWNER_GRANT = _grant(f'xsi:type="CanonicalUser"><ID>{OWNER_ID}</ID>')


def test_private_document_accepted() -> None:
    acl.check_policy_document(_policy(OWNER_GRANT))
    acl.check_policy_document(_policy(""))  # no grants at all: less than private
    acl.check_policy_document(acl.private_policy())  # what GetObjectAcl answers


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_policy(OWNER_GRANT, owner="someone-else"), errors.AccessControlListNotSupported),
        (
            _policy(
                OWNER_GRANT
                + _grant(
                    'xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>',
                    "READ",
                )
            ),
            errors.AccessControlListNotSupported,
        ),
        (
            _policy(_grant('xsi:type="CanonicalUser"><ID>other</ID>')),
            errors.AccessControlListNotSupported,
        ),
        (
            _policy(_grant('xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b</EmailAddress>')),
            errors.AccessControlListNotSupported,
        ),
        (b"<NotAnAcl/>", errors.MalformedXML),
        (b"<AccessControlPolicy><Grant>", errors.MalformedXML),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><AccessControlPolicy/>', errors.MalformedXML),
    ],
)
def test_wider_documents_refused(body: bytes, error: type[errors.S3Error]) -> None:
    with pytest.raises(error):
        acl.check_policy_document(body)


def test_private_policy_names_the_owner_with_full_control() -> None:
    root = ElementTree.fromstring(acl.private_policy())
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    assert root.findtext(f"{ns}Owner/{ns}ID") == OWNER_ID
    grants = root.findall(f"{ns}AccessControlList/{ns}Grant")
    assert [g.findtext(f"{ns}Permission") for g in grants] == ["FULL_CONTROL"]
    assert grants[0].findtext(f"{ns}Grantee/{ns}ID") == OWNER_ID
