"""S3 XML documents (s3.xml): every response renders to a document a
standard parser reads back to the same strings, whatever a key holds; the
request bodies (DeleteObjects, CompleteMultipartUpload,
CreateBucketConfiguration) are parsed with limits, and a hostile body is
MalformedXML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import pytest

from s3gate import errors
from s3gate.s3 import listxml, xml, xmldoc
from s3gate.s3.model import (
    BucketInfo,
    DeleteOutcome,
    ListPage,
    ObjectInfo,
    PartInfo,
    PartsPage,
    UploadInfo,
    UploadsPage,
    VersionInfo,
)

NS = {"s3": xmldoc.NS}
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
ISO = "2026-01-02T03:04:05.678Z"

# Keys a client may choose that XML 1.0 can carry: each must come back from
# the document exactly, blanks, line ends and all.
KEYS = [
    pytest.param("plain/key.jsonl", id="plain"),
    pytest.param("a&b", id="amp"),
    pytest.param("<script>alert(1)</script>", id="tags"),
    pytest.param('say "hi"', id="quot"),
    pytest.param("it's", id="apostrophe"),
    pytest.param("tab\there", id="tab"),
    pytest.param("lf\nhere", id="lf"),
    pytest.param("cr\rhere", id="cr"),
    pytest.param("crlf\r\nhere", id="crlf"),
    pytest.param("  blanks around  ", id="blanks"),
    pytest.param("\n", id="only-lf"),
    pytest.param("]]>", id="cdata-end"),
    pytest.param("&amp;&#10;", id="entity-like-text"),
    pytest.param("ключ/日本/😀", id="non-ascii"),
    pytest.param("del\x7f nel\x85", id="del-and-c1"),
    pytest.param('&<>"\t\r\n', id="all-at-once"),
]

# Keys with C0 characters XML 1.0 cannot carry even as references: written
# as references as S3 does (never raw), and exact with encoding-type=url.
CONTROL_KEYS = [
    pytest.param("nul\x00", id="nul"),
    pytest.param("soh\x01", id="soh"),
    pytest.param("esc\x1b[31m", id="escape-sequence"),
    pytest.param("bell\x07 and lf\n", id="bell"),
]


def _params(prefix: str = "p/", encoding: str | None = None) -> listxml.ListParams:
    return listxml.ListParams("traces", prefix, "/", 1000, encoding)


def _obj(key: str) -> ObjectInfo:
    return ObjectInfo(key, 5, '"etag"', WHEN)


def _version(key: str, *, marker: bool = False) -> VersionInfo:
    if marker:
        return VersionInfo(key, "v1", False, WHEN, delete_marker=True)
    return VersionInfo(key, "v2", True, WHEN, size=5, etag='"etag"')


# Each renderer that carries a client's key, and the paths the key appears at.
Render = Callable[[str, str | None], bytes]
RENDERERS: list[tuple[str, Render, list[str]]] = [
    (
        "ListObjects",
        lambda k, enc: listxml.list_objects_v1(
            _params(k, enc), ListPage([_obj(k)], [k], True), k, k
        ),
        [
            "s3:Prefix",
            "s3:Marker",
            "s3:NextMarker",
            "s3:Contents/s3:Key",
            "s3:CommonPrefixes/s3:Prefix",
        ],
    ),
    (
        "ListObjectsV2",
        lambda k, enc: listxml.list_objects_v2(
            _params(k, enc),
            ListPage([_obj(k)], [k], False),
            continuation_token=None,
            next_token=None,
            start_after=k,
            fetch_owner=True,
        ),
        ["s3:Prefix", "s3:StartAfter", "s3:Contents/s3:Key", "s3:CommonPrefixes/s3:Prefix"],
    ),
    (
        "ListObjectVersions",
        lambda k, enc: listxml.list_versions(
            _params(k, enc),
            listxml.VersionsListing([_version(k), _version(k, marker=True)], [k], True, k, "v2"),
            k,
            "",
        ),
        [
            "s3:Prefix",
            "s3:KeyMarker",
            "s3:NextKeyMarker",
            "s3:Version/s3:Key",
            "s3:DeleteMarker/s3:Key",
            "s3:CommonPrefixes/s3:Prefix",
        ],
    ),
    (
        "ListMultipartUploads",
        lambda k, enc: listxml.list_uploads(
            "traces",
            UploadsPage([UploadInfo(k, "u1", WHEN)], [k], True, k, "u1"),
            prefix=k,
            delimiter="/",
            max_uploads=10,
            key_marker=k,
            upload_id_marker="",
            encoding_type=enc,
        ),
        [
            "s3:KeyMarker",
            "s3:NextKeyMarker",
            "s3:Prefix",
            "s3:Upload/s3:Key",
            "s3:CommonPrefixes/s3:Prefix",
        ],
    ),
    (
        "InitiateMultipartUpload",
        lambda k, enc: xml.initiate_multipart("traces", k, "u1"),
        ["s3:Key"],
    ),
    (
        "CompleteMultipartUpload",
        lambda k, enc: xml.complete_multipart("/traces/" + k, "traces", k, '"e-2"'),
        ["s3:Key"],
    ),
    (
        "ListParts",
        lambda k, enc: listxml.list_parts("traces", k, "u1", PartsPage([], False), 1000, 0),
        ["s3:Key"],
    ),
    (
        "DeleteResult",
        lambda k, enc: xml.delete_result(
            [DeleteOutcome(k), DeleteOutcome(k, "AccessDenied", k)], quiet=False
        ),
        ["s3:Deleted/s3:Key", "s3:Error/s3:Key", "s3:Error/s3:Message"],
    ),
]
RENDER_IDS = [r[0] for r in RENDERERS]
URL_ENCODED = [r for r in RENDERERS if r[0].startswith("List") and r[0] != "ListParts"]


def _texts(document: bytes, paths: list[str]) -> list[str | None]:
    root = SafeET.fromstring(document)
    found: list[str | None] = []
    for path in paths:
        matches = root.findall(path, NS)
        assert matches, f"{path} missing"
        found += [m.text for m in matches]
    return found


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(("name", "render", "paths"), RENDERERS, ids=RENDER_IDS)
def test_keys_round_trip_through_a_standard_parser(
    name: str, render: Render, paths: list[str], key: str
) -> None:
    assert set(_texts(render(key, None), paths)) == {key}


@pytest.mark.parametrize("key", CONTROL_KEYS)
@pytest.mark.parametrize(("name", "render", "paths"), RENDERERS, ids=RENDER_IDS)
def test_control_characters_are_never_written_raw(
    name: str, render: Render, paths: list[str], key: str
) -> None:
    document = render(key, None)
    assert not any(c < 0x20 and c not in (0x0A,) for c in document)  # only the HEAD's LF
    assert document.count(b"\n") == 1
    assert f"&#{ord(next(c for c in key if c < ' '))};".encode() in document


@pytest.mark.parametrize("key", KEYS + CONTROL_KEYS)
@pytest.mark.parametrize(("name", "render", "paths"), URL_ENCODED, ids=[r[0] for r in URL_ENCODED])
def test_encoding_type_url_carries_any_key(
    name: str, render: Render, paths: list[str], key: str
) -> None:
    document = render(key, "url")
    texts = _texts(document, paths)
    assert {unquote(t or "") for t in texts} == {key}
    assert all(t is not None and t.isascii() and t.isprintable() for t in texts)
    assert _texts(document, ["s3:EncodingType"]) == ["url"]


def _root(document: bytes) -> Element:
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root: Element = SafeET.fromstring(document)
    return root


def _one(root: Element, path: str) -> str | None:
    found = root.find(path, NS)
    assert found is not None, path
    return found.text


def test_list_buckets() -> None:
    root = _root(listxml.list_buckets([BucketInfo("audit", WHEN), BucketInfo("traces", WHEN)]))
    assert root.tag == f"{{{xmldoc.NS}}}ListAllMyBucketsResult"
    names = [b.text for b in root.findall("s3:Buckets/s3:Bucket/s3:Name", NS)]
    assert names == ["audit", "traces"]
    assert _one(root, "s3:Buckets/s3:Bucket/s3:CreationDate") == ISO
    assert _one(root, "s3:Owner/s3:ID") == xmldoc.OWNER_ID


@pytest.mark.parametrize(
    ("region", "text"),
    [
        pytest.param("us-east-1", None, id="us-east-1-is-empty"),
        pytest.param("eu-west-1", "eu-west-1", id="named"),
        pytest.param("x<y", "x<y", id="escaped"),
    ],
)
def test_location(region: str, text: str | None) -> None:
    root = _root(xml.location(region))
    assert root.tag == f"{{{xmldoc.NS}}}LocationConstraint" and root.text == text


@pytest.mark.parametrize(
    ("truncated", "next_marker", "expected"),
    [
        pytest.param(True, "k9", "k9", id="truncated"),
        pytest.param(False, "k9", None, id="not-truncated-no-marker"),
        pytest.param(True, None, None, id="truncated-without-marker"),
    ],
)
def test_list_objects_v1_markers(
    truncated: bool, next_marker: str | None, expected: str | None
) -> None:
    root = _root(
        listxml.list_objects_v1(_params(), ListPage([_obj("k")], [], truncated), "", next_marker)
    )
    assert _one(root, "s3:IsTruncated") == ("true" if truncated else "false")
    found = root.find("s3:NextMarker", NS)
    assert (found.text if found is not None else None) == expected
    assert _one(root, "s3:Contents/s3:Owner/s3:ID") == xmldoc.OWNER_ID


@pytest.mark.parametrize(
    ("fetch_owner", "owners"),
    [pytest.param(True, 1, id="fetch-owner"), pytest.param(False, 0, id="no-owner")],
)
def test_list_objects_v2(fetch_owner: bool, owners: int) -> None:
    root = _root(
        listxml.list_objects_v2(
            listxml.ListParams("traces", "", None, 2, None),
            ListPage([_obj("a")], ["p/"], True, "p/"),
            continuation_token="tok<1>",
            next_token="tok&2",
            start_after=None,
            fetch_owner=fetch_owner,
        )
    )
    assert _one(root, "s3:KeyCount") == "2"  # keys and common prefixes
    assert _one(root, "s3:MaxKeys") == "2"
    assert _one(root, "s3:ContinuationToken") == "tok<1>"
    assert _one(root, "s3:NextContinuationToken") == "tok&2"
    assert root.find("s3:StartAfter", NS) is None and root.find("s3:Delimiter", NS) is None
    assert len(root.findall("s3:Contents/s3:Owner", NS)) == owners
    assert _one(root, "s3:Contents/s3:LastModified") == ISO
    assert _one(root, "s3:Contents/s3:Size") == "5"
    assert _one(root, "s3:Contents/s3:ETag") == '"etag"'
    assert _one(root, "s3:Contents/s3:StorageClass") == "STANDARD"


def test_list_versions_with_a_delete_marker() -> None:
    page = listxml.VersionsListing([_version("k"), _version("k", marker=True)], [], True, "k", "v1")
    root = _root(listxml.list_versions(_params(), page, "a", "v0"))
    assert _one(root, "s3:Version/s3:VersionId") == "v2"
    assert _one(root, "s3:Version/s3:IsLatest") == "true"
    assert _one(root, "s3:Version/s3:Size") == "5"
    assert _one(root, "s3:DeleteMarker/s3:VersionId") == "v1"
    assert _one(root, "s3:DeleteMarker/s3:IsLatest") == "false"
    assert root.find("s3:DeleteMarker/s3:Size", NS) is None
    assert (_one(root, "s3:KeyMarker"), _one(root, "s3:VersionIdMarker")) == ("a", "v0")
    assert (_one(root, "s3:NextKeyMarker"), _one(root, "s3:NextVersionIdMarker")) == ("k", "v1")


@pytest.mark.parametrize(
    ("quiet", "deleted"),
    [pytest.param(False, ["gone"], id="verbose"), pytest.param(True, [], id="quiet")],
)
def test_delete_result(quiet: bool, deleted: list[str]) -> None:
    root = _root(
        xml.delete_result(
            [DeleteOutcome("gone"), DeleteOutcome("kept", "AccessDenied")], quiet=quiet
        )
    )
    assert [k.text for k in root.findall("s3:Deleted/s3:Key", NS)] == deleted
    # Errors are reported even when quiet; the message defaults to the code.
    assert _one(root, "s3:Error/s3:Key") == "kept"
    assert _one(root, "s3:Error/s3:Code") == "AccessDenied"
    assert _one(root, "s3:Error/s3:Message") == "AccessDenied"


def test_list_parts() -> None:
    page = PartsPage([PartInfo(1, '"e1"', 5, WHEN), PartInfo(2, '"e2"', 6, WHEN)], True, 2)
    root = _root(listxml.list_parts("traces", "k", "u1", page, 2, 0))
    assert [p.text for p in root.findall("s3:Part/s3:PartNumber", NS)] == ["1", "2"]
    assert [p.text for p in root.findall("s3:Part/s3:ETag", NS)] == ['"e1"', '"e2"']
    assert _one(root, "s3:Initiator/s3:ID") == xmldoc.OWNER_ID
    assert _one(root, "s3:Owner/s3:ID") == xmldoc.OWNER_ID
    assert _one(root, "s3:NextPartNumberMarker") == "2"
    assert _one(root, "s3:PartNumberMarker") == "0"
    assert _one(root, "s3:IsTruncated") == "true"


def test_list_uploads() -> None:
    page = UploadsPage([UploadInfo("k", "u1", WHEN)], [], False)
    root = _root(
        listxml.list_uploads(
            "traces",
            page,
            prefix="",
            delimiter=None,
            max_uploads=5,
            key_marker="",
            upload_id_marker="",
            encoding_type=None,
        )
    )
    assert _one(root, "s3:Upload/s3:UploadId") == "u1"
    assert _one(root, "s3:Upload/s3:Initiated") == ISO
    assert _one(root, "s3:Upload/s3:Initiator/s3:ID") == xmldoc.OWNER_ID
    assert root.find("s3:NextKeyMarker", NS) is None
    assert root.find("s3:EncodingType", NS) is None


def test_copy_and_complete_results() -> None:
    copy = _root(xml.copy_result('"e"', ISO))
    assert (_one(copy, "s3:ETag"), _one(copy, "s3:LastModified")) == ('"e"', ISO)
    done = _root(xml.complete_multipart("/traces/k", "traces", "k", '"e-2"'))
    assert _one(done, "s3:Location") == "/traces/k" and _one(done, "s3:ETag") == '"e-2"'


# ---- request bodies ---------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)
XXE = b'<?xml version="1.0"?><!DOCTYPE Delete [<!ENTITY x SYSTEM "file:///etc/passwd">]>'


def _delete(*objects: str, quiet: str | None = None, root: str = "Delete") -> bytes:
    q = f"<Quiet>{quiet}</Quiet>" if quiet is not None else ""
    return f"<{root}>{q}{''.join(objects)}</{root}>".encode()


def _obj_xml(key: str) -> str:
    return f"<Object><Key>{key}</Key></Object>"


DELETES = [
    pytest.param(_delete(_obj_xml("a"), _obj_xml("b")), (["a", "b"], False), id="two"),
    pytest.param(
        f'<Delete xmlns="{xmldoc.NS}"><Object><Key>a</Key></Object></Delete>'.encode(),
        (["a"], False),
        id="aws-namespace",
    ),
    pytest.param(
        _delete(_obj_xml("b"), _obj_xml("a"), _obj_xml("b")),
        (["b", "a", "b"], False),
        id="request-order-kept",
    ),
    pytest.param(_delete(_obj_xml("a"), quiet="true"), (["a"], True), id="quiet"),
    pytest.param(_delete(_obj_xml("a"), quiet=" TRUE "), (["a"], True), id="quiet-case-blanks"),
    pytest.param(_delete(_obj_xml("a"), quiet="false"), (["a"], False), id="not-quiet"),
    pytest.param(_delete(_obj_xml("a"), quiet="yes"), (["a"], False), id="quiet-only-true"),
    pytest.param(
        _delete("<Object><Key>a</Key><VersionId>null</VersionId></Object>"),
        ([("a", "null")], False),
        id="null-version",
    ),
    pytest.param(
        _delete("<Object><Key>a</Key><VersionId>3HL4kqtJ</VersionId></Object>", _obj_xml("b")),
        ([("a", "3HL4kqtJ"), "b"], False),
        id="a-version-and-a-key",
    ),
    pytest.param(
        _delete("<Object><Key>a</Key><VersionId></VersionId></Object>"),
        (["a"], False),
        id="empty-version-is-none",
    ),
    pytest.param(
        _delete(_obj_xml("a&amp;b&lt;c&gt;&quot;&#13;&#10;&#9;")),
        (['a&b<c>"\r\n\t'], False),
        id="references",
    ),
    pytest.param(_delete(_obj_xml("  spaced  ")), (["  spaced  "], False), id="blanks-kept"),
    pytest.param(_delete(_obj_xml("ключ/日本")), (["ключ/日本"], False), id="utf8"),
    pytest.param(
        _delete(*(_obj_xml(f"k{i}") for i in range(xml.MAX_DELETE_KEYS))),
        ([f"k{i}" for i in range(xml.MAX_DELETE_KEYS)], False),
        id="1000-keys",
    ),
]


@pytest.mark.parametrize(("body", "expected"), DELETES)
def test_parse_delete(
    body: bytes, expected: tuple[list[str | tuple[str, str | None]], bool]
) -> None:
    keys, quiet = expected  # a bare key: no VersionId
    assert xml.parse_delete(body) == (
        [k if isinstance(k, tuple) else (k, None) for k in keys],
        quiet,
    )


@pytest.mark.parametrize("key", KEYS)
def test_a_rendered_key_parses_back_from_a_delete_request(key: str) -> None:
    # What the gateway writes for a key is what it reads back from a client.
    body = f"<Delete><Object>{xmldoc.element('Key', key)}</Object></Delete>".encode()
    assert xml.parse_delete(body) == ([(key, None)], False)


BAD_DELETES = [
    pytest.param(
        _delete(*(_obj_xml(f"k{i}") for i in range(xml.MAX_DELETE_KEYS + 1))), id="1001-keys"
    ),
    pytest.param(_delete(), id="no-objects"),
    pytest.param(_delete("<Object/>"), id="object-without-key"),
    pytest.param(_delete(_obj_xml("")), id="empty-key"),
    pytest.param(_delete("<Object><Key>a</Key><Key>b</Key></Object>"), id="repeated-key"),
    pytest.param(
        _delete(_obj_xml("a"), quiet="true").replace(b"<Quiet>", b"<Quiet>x</Quiet><Quiet>"),
        id="repeated-quiet",
    ),
    pytest.param(
        _delete("<Object><Key>a</Key><VersionId>null</VersionId><VersionId>v</VersionId></Object>"),
        id="repeated-version",
    ),
    pytest.param(_delete("<Object><Key>a<b/>c</Key></Object>"), id="key-with-child-element"),
    pytest.param(_delete(_obj_xml("a"), root="Remove"), id="wrong-root"),
    pytest.param(BILLION_LAUGHS + _delete(_obj_xml("&c;")), id="billion-laughs"),
    pytest.param(XXE + _delete(_obj_xml("&x;")), id="external-entity"),
    pytest.param(b"<!DOCTYPE Delete>" + _delete(_obj_xml("a")), id="doctype"),
    pytest.param(_delete(_obj_xml("a")).replace(b"a", b"\xff"), id="not-utf8"),
    pytest.param(
        b'<?xml version="1.0" encoding="ISO-8859-1"?>'
        b"<Delete><Object><Key>\xe9</Key></Object></Delete>",
        id="latin1",
    ),
    pytest.param(_delete(_obj_xml("a&#1;")), id="non-xml-character"),
    pytest.param(_delete(_obj_xml("a"))[:-3], id="truncated"),
    pytest.param(b"", id="empty"),
]


@pytest.mark.parametrize("body", BAD_DELETES)
def test_bad_delete_bodies_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        xml.parse_delete(body)


def _complete(*parts: tuple[str, str]) -> bytes:
    inner = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts)
    return f"<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>".encode()


COMPLETES = [
    pytest.param(_complete(("1", '"e1"'), ("2", '"e2"')), [(1, '"e1"'), (2, '"e2"')], id="two"),
    # Order is the store's to judge (InvalidPartOrder), not the parser's.
    pytest.param(_complete(("2", "e2"), ("1", "e1")), [(2, "e2"), (1, "e1")], id="order-kept"),
    pytest.param(_complete((" 3 ", ' "e3" ')), [(3, '"e3"')], id="blanks-stripped"),
    pytest.param(_complete(("0007", "e")), [(7, "e")], id="leading-zeros"),
    pytest.param(_complete(("10000", "e")), [(10000, "e")], id="largest-part-number"),
    pytest.param(_complete(("1", "&quot;e1&quot;")), [(1, '"e1"')], id="escaped-quotes"),
    pytest.param(
        f'<CompleteMultipartUpload xmlns="{xmldoc.NS}"><Part><ETag>e</ETag>'
        "<PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
        "</CompleteMultipartUpload>".encode(),
        [(1, "e")],
        id="namespace-any-order-checksum-ignored",
    ),
]


@pytest.mark.parametrize(("body", "expected"), COMPLETES)
def test_parse_complete(body: bytes, expected: list[tuple[int, str]]) -> None:
    assert xml.parse_complete(body) == expected


BAD_COMPLETES = [
    pytest.param(b"<CompleteMultipartUpload/>", id="no-parts"),
    pytest.param(_complete(("", "e")), id="empty-number"),
    pytest.param(_complete(("1", "")), id="empty-etag"),
    pytest.param(
        b"<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
        id="no-number",
    ),
    pytest.param(
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
        b"</CompleteMultipartUpload>",
        id="no-etag",
    ),
    pytest.param(_complete(("-1", "e")), id="negative"),
    pytest.param(_complete(("+1", "e")), id="plus-sign"),
    pytest.param(_complete(("1.0", "e")), id="fraction"),
    pytest.param(_complete(("0x1", "e")), id="hex"),
    pytest.param(_complete(("1e3", "e")), id="exponent"),
    pytest.param(_complete(("1_000", "e")), id="underscore"),
    pytest.param(_complete(("one", "e")), id="word"),
    # Digits that are not ASCII: int() reads U+0661 as 1 and fails on U+00B2.
    pytest.param(_complete(("\u0661", "e")), id="arabic-indic-digit"),
    pytest.param(_complete(("\u00b2", "e")), id="superscript-two"),
    pytest.param(_complete(("\uff11", "e")), id="fullwidth-digit"),
    pytest.param(
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber>"
        b"<ETag>e</ETag></Part></CompleteMultipartUpload>",
        id="repeated-number",
    ),
    pytest.param(
        _complete(("1", "e")).replace(b"CompleteMultipartUpload", b"Complete"), id="wrong-root"
    ),
    pytest.param(
        BILLION_LAUGHS.replace(b"Delete", b"CompleteMultipartUpload") + _complete(("1", "&c;")),
        id="billion-laughs",
    ),
    pytest.param(
        XXE.replace(b"Delete", b"CompleteMultipartUpload") + _complete(("1", "&x;")),
        id="external-entity",
    ),
    pytest.param(_complete(("1", "e")).replace(b"e<", b"\xff<"), id="not-utf8"),
]


@pytest.mark.parametrize("body", BAD_COMPLETES)
def test_bad_complete_bodies_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        xml.parse_complete(body)


# S3's part numbers run from 1 to 10000: no store holds another, however
# many digits it is written with.
@pytest.mark.parametrize(
    "number",
    [
        pytest.param("0", id="zero"),
        pytest.param("10001", id="10001"),
        pytest.param("99999999999999999999", id="past-64-bits"),
        pytest.param("9" * 5000, id="5000-digits"),
    ],
)
def test_part_numbers_outside_s3s_range_are_invalid_part(number: str) -> None:
    with pytest.raises(errors.InvalidPart):
        xml.parse_complete(_complete(("1", "e"), (number, "e")))


CREATE_BUCKET = [
    pytest.param(b"", None, id="no-body"),
    pytest.param(b"  \n", None, id="blank-body"),
    pytest.param(
        f'<CreateBucketConfiguration xmlns="{xmldoc.NS}"><LocationConstraint>eu-west-1'
        "</LocationConstraint></CreateBucketConfiguration>".encode(),
        "eu-west-1",
        id="region",
    ),
    pytest.param(b"<CreateBucketConfiguration/>", None, id="no-constraint"),
    pytest.param(
        b"<CreateBucketConfiguration><LocationConstraint/></CreateBucketConfiguration>",
        None,
        id="empty-constraint",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CREATE_BUCKET)
def test_parse_create_bucket(body: bytes, expected: str | None) -> None:
    assert xml.parse_create_bucket(body) == expected


BAD_CREATE_BUCKET = [
    pytest.param(b"<Other/>", id="wrong-root"),
    pytest.param(
        b"<CreateBucketConfiguration><LocationConstraint>a</LocationConstraint>"
        b"<LocationConstraint>b</LocationConstraint></CreateBucketConfiguration>",
        id="repeated-constraint",
    ),
    pytest.param(
        BILLION_LAUGHS.replace(b"Delete", b"CreateBucketConfiguration")
        + b"<CreateBucketConfiguration><LocationConstraint>&c;</LocationConstraint>"
        b"</CreateBucketConfiguration>",
        id="billion-laughs",
    ),
    pytest.param(b"<CreateBucketConfiguration>", id="unclosed"),
    pytest.param(b"\xff\xfe<", id="not-utf8"),
]


@pytest.mark.parametrize("body", BAD_CREATE_BUCKET)
def test_bad_create_bucket_bodies_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        xml.parse_create_bucket(body)
