"""ACLs, as S3 answers them for a bucket whose ACLs are disabled.

s3gate decides access with its policies; an ACL stored behind its back would
grant access the gateway never sees (a public-read object in the store). So
every bucket behaves as S3's "bucket owner enforced" Object Ownership setting:
ACL reads answer the private canned ACL (the owner has FULL_CONTROL, nobody
else anything), and a request that would grant more than that is refused with
`AccessControlListNotSupported`, exactly what S3 answers. Nothing ACL-related
is ever forwarded to the store, so what is stored is private whatever the
store's defaults for the gateway's own credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.etree.ElementTree import Element

from s3gate import errors
from s3gate.s3.xmldoc import HEAD, NS, OWNER_ID, children, local_name, parse_xml, text_of

# The canned ACLs that grant nothing beyond the owner's full control: the
# owner (the gateway's one account) is also the bucket owner.
PRIVATE_CANNED = frozenset({"private", "bucket-owner-full-control"})
GRANT_HEADERS = (
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)
# Requests whose ACL headers S3 honours (and s3gate therefore checks).
ACL_HEADER_OPERATIONS = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "CreateBucket",
        "PutObjectAcl",
        "PutBucketAcl",
    }
)
_GRANTEE = re.compile(r'\s*(id|emailAddress|uri)\s*=\s*"([^"]*)"\s*')
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def check_headers(headers: Mapping[str, str]) -> None:
    """Refuse canned ACLs and grant headers that give anyone but the owner
    anything."""
    canned = headers.get("x-amz-acl")
    if canned is not None and canned.strip() not in PRIVATE_CANNED:
        raise errors.AccessControlListNotSupported()
    for name in GRANT_HEADERS:
        value = headers.get(name)
        if value is not None and not _grants_only_owner(value):
            raise errors.AccessControlListNotSupported()


def _grants_only_owner(value: str) -> bool:
    # `id="…", uri="…"`: every grantee must be the owner's canonical id.
    pieces = value.split(",")
    for piece in pieces:
        match = _GRANTEE.fullmatch(piece)
        if match is None or match.group(1) != "id" or match.group(2) != OWNER_ID:
            return False
    return True


def check_policy_document(body: bytes) -> None:
    """A Put*Acl body: accepted only if it is the private ACL (the owner, and
    FULL_CONTROL or less for the owner alone)."""
    root = parse_xml(body)
    if local_name(root.tag) != "AccessControlPolicy":
        raise errors.MalformedXML()
    owner = children(root, "Owner")
    if len(owner) > 1 or (owner and text_of(owner[0], "ID") != OWNER_ID):
        raise errors.AccessControlListNotSupported()
    lists = children(root, "AccessControlList")
    if len(lists) > 1:
        raise errors.MalformedXML()
    for grant in children(lists[0], "Grant") if lists else []:
        _check_grant(grant)


def _check_grant(grant: Element) -> None:
    grantees = children(grant, "Grantee")
    if len(grantees) != 1:
        raise errors.MalformedXML()
    grantee = grantees[0]
    kind = grantee.get(f"{{{_XSI}}}type")
    if kind != "CanonicalUser" or text_of(grantee, "ID") != OWNER_ID:
        raise errors.AccessControlListNotSupported()


def private_policy() -> bytes:
    """The answer to GetObjectAcl and GetBucketAcl."""
    owner = f"<ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName>"
    return (
        f'{HEAD}<AccessControlPolicy xmlns="{NS}"><Owner>{owner}</Owner>'
        f'<AccessControlList><Grant><Grantee xmlns:xsi="{_XSI}" xsi:type="CanonicalUser">'
        f"{owner}</Grantee><Permission>FULL_CONTROL</Permission></Grant>"
        "</AccessControlList></AccessControlPolicy>"
    ).encode()
