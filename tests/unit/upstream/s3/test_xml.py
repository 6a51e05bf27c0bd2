"""The S3 upstream's XML parsers and builders, on AWS-documented samples."""

from __future__ import annotations

from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
import pytest

from s3gate import errors
from s3gate.s3.model import DeleteOutcome
from s3gate.upstream.s3 import xml as s3xml

LIST_V2_URL = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>example-bucket</Name>
  <Prefix>photos/</Prefix>
  <KeyCount>4</KeyCount>
  <MaxKeys>4</MaxKeys>
  <Delimiter>/</Delimiter>
  <EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>photos/a+b%2Bc%25d.jpg</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>"fba9dede5f27731c9771645a39863328"</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>photos/%C3%A9t%C3%A9%0D.jpg</Key>
    <LastModified>2009-10-12T17:50:31.000Z</LastModified>
    <ETag>"aba9dede5f27731c9771645a39863328"</ETag>
    <Size>1</Size>
    <StorageClass>GLACIER</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>photos/2006/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>photos/%F0%9F%98%80%3F/</Prefix></CommonPrefixes>
</ListBucketResult>"""

LIST_PARTS = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator>
      <ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID>
      <DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName>
  </Initiator>
  <Owner>
    <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
    <DisplayName>someName</DisplayName>
  </Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag>
    <Size>10485760</Size>
  </Part>
</ListPartsResult>"""

LIST_UPLOADS = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket>
  <KeyMarker></KeyMarker>
  <UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>my-movie.m2ts</NextKeyMarker>
  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
  <MaxUploads>3</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>my-divisor</Key>
    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
    <Initiator>
      <ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID>
      <DisplayName>user1-11111a31-17b5-4fb7-9df5-b111111f13de</DisplayName>
    </Initiator>
    <Owner>
      <ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>
      <DisplayName>OwnerDisplayName</DisplayName>
    </Owner>
    <StorageClass>REDUCED_REDUNDANCY</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>my-movie.m2ts</Key>
    <UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>
</ListMultipartUploadsResult>"""

DELETE_RESULT = b"""<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Deleted>
    <Key>sample1.txt</Key>
  </Deleted>
  <Error>
    <Key>sample2.txt</Key>
    <Code>AccessDenied</Code>
    <Message>Access Denied</Message>
  </Error>
</DeleteResult>"""

# S3 answers CompleteMultipartUpload 200 OK, sends whitespace while it works,
# then possibly an error document (documented in the CompleteMultipartUpload
# and CopyObject references).
COMPLETE_200_ERROR = b"""

<?xml version="1.0" encoding="UTF-8"?>
<Error>
<Code>InternalError</Code>
<Message>We encountered an internal error. Please try again.</Message>
<RequestId>656c76696e6727732072657175657374</RequestId>
<HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>
</Error>"""

COMPLETE_OK = b"""<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Location>http://Example-Bucket.s3.Region.amazonaws.com/Example-Object</Location>
  <Bucket>Example-Bucket</Bucket>
  <Key>Example-Object</Key>
  <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>"""

COPY_OK = b"""<CopyObjectResult>
   <LastModified>2009-10-28T22:32:00</LastModified>
   <ETag>"9b2cf535f27731c974343645a3985328"</ETag>
</CopyObjectResult>"""

LIST_BUCKETS = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Owner><ID>bcaf1ffd86f461ca5fb16fd081034f</ID><DisplayName>webfile</DisplayName></Owner>
  <Buckets>
    <Bucket><Name>quotes</Name><CreationDate>2006-02-03T16:45:09.000Z</CreationDate></Bucket>
    <Bucket><Name>samples</Name><CreationDate>2006-02-03T16:41:58.000Z</CreationDate></Bucket>
  </Buckets>
</ListAllMyBucketsResult>"""


def test_list_objects_v2_url_encoded() -> None:
    page = s3xml.parse_list_objects_v2(LIST_V2_URL)
    assert [o.key for o in page.contents] == ["photos/a b+c%d.jpg", "photos/été\r.jpg"]
    assert page.common_prefixes == ["photos/2006/", "photos/😀?/"]
    first = page.contents[0]
    assert first.size == 434234
    assert first.etag == '"fba9dede5f27731c9771645a39863328"'
    assert first.last_modified == datetime(2009, 10, 12, 17, 50, 30, tzinfo=UTC)
    assert page.contents[1].storage_class == "GLACIER"
    # The last entry in listing order is the larger of the last key and prefix.
    assert page.is_truncated and page.next_after == "photos/😀?/"


def test_list_objects_v2_raw_keys_when_store_ignores_encoding() -> None:
    raw = LIST_V2_URL.replace(b"<EncodingType>url</EncodingType>", b"")
    page = s3xml.parse_list_objects_v2(raw)
    assert page.contents[0].key == "photos/a+b%2Bc%25d.jpg"


def test_list_objects_v2_next_after_is_a_key_when_it_sorts_last() -> None:
    body = LIST_V2_URL.replace(b"photos/%F0%9F%98%80%3F/", b"photos/00/")
    page = s3xml.parse_list_objects_v2(body)
    assert page.next_after == "photos/été\r.jpg"


def test_list_objects_v2_drops_echoed_skip_prefix() -> None:
    page = s3xml.parse_list_objects_v2(LIST_V2_URL, skip_prefix="photos/2006/")
    assert page.common_prefixes == ["photos/😀?/"]


def test_list_objects_v2_not_truncated_has_no_next() -> None:
    body = LIST_V2_URL.replace(b"<IsTruncated>true", b"<IsTruncated>false")
    assert s3xml.parse_list_objects_v2(body).next_after is None


def test_list_parts() -> None:
    page = s3xml.parse_list_parts(LIST_PARTS)
    assert [(p.part_number, p.size) for p in page.parts] == [(2, 10485760), (3, 10485760)]
    assert page.parts[0].etag == '"7778aef83f66abc1fa1e8477f296d394"'
    assert page.parts[1].last_modified == datetime(2010, 11, 10, 20, 48, 33, tzinfo=UTC)
    assert page.is_truncated and page.next_part_number_marker == 3


def test_list_uploads() -> None:
    page = s3xml.parse_list_uploads(LIST_UPLOADS)
    assert [u.key for u in page.uploads] == ["my-divisor", "my-movie.m2ts"]
    assert page.uploads[0].upload_id == "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw"
    assert page.uploads[0].initiated == datetime(2010, 11, 10, 20, 48, 33, tzinfo=UTC)
    assert page.common_prefixes == ["photos/"]
    assert page.is_truncated
    assert page.next_key_marker == "my-movie.m2ts"
    assert page.next_upload_id_marker == "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ"


def test_list_uploads_url_encoded_markers() -> None:
    body = LIST_UPLOADS.replace(
        b"<MaxUploads>", b"<EncodingType>url</EncodingType><MaxUploads>"
    ).replace(b"my-movie.m2ts", b"my+movie%3F.m2ts")
    page = s3xml.parse_list_uploads(body)
    assert page.next_key_marker == "my movie?.m2ts"
    assert page.uploads[1].key == "my movie?.m2ts"


def test_delete_result_in_request_order() -> None:
    keys = ["sample2.txt", "unreported", "sample1.txt"]
    assert s3xml.parse_delete_result(DELETE_RESULT, keys) == [
        DeleteOutcome("sample2.txt", "AccessDenied", "Access Denied"),
        DeleteOutcome(
            "unreported", "InternalError", "The upstream store did not report on this key"
        ),
        DeleteOutcome("sample1.txt"),
    ]


def test_delete_result_raw_carriage_return_matches() -> None:
    body = b"<DeleteResult><Deleted><Key>a\rb</Key></Deleted></DeleteResult>"
    assert s3xml.parse_delete_result(body, ["a\rb"]) == [DeleteOutcome("a\rb")]


def test_complete_200_with_error_raises() -> None:
    with pytest.raises(errors.InternalError, match="internal error"):
        s3xml.parse_complete(COMPLETE_200_ERROR, None)
    slow = COMPLETE_200_ERROR.replace(b"InternalError", b"SlowDown")
    with pytest.raises(errors.SlowDown):
        s3xml.parse_copy(slow, None)
    odd = COMPLETE_200_ERROR.replace(b"InternalError", b"SomethingNew")
    with pytest.raises(errors.UpstreamError) as info:
        s3xml.parse_complete(odd, None)
    assert info.value.error_code == "SomethingNew"


def test_complete_and_copy_ok() -> None:
    done = s3xml.parse_complete(COMPLETE_OK, "v1")
    assert done.etag == '"3858f62230ac3c915f300c664312c11f-9"' and done.version_id == "v1"
    copied = s3xml.parse_copy(COPY_OK, None)
    assert copied.etag == '"9b2cf535f27731c974343645a3985328"'
    assert copied.last_modified == datetime(2009, 10, 28, 22, 32, tzinfo=UTC)


def test_buckets_and_location() -> None:
    buckets = s3xml.parse_list_buckets(LIST_BUCKETS)
    assert [b.name for b in buckets] == ["quotes", "samples"]
    assert buckets[0].created == datetime(2006, 2, 3, 16, 45, 9, tzinfo=UTC)
    ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    assert s3xml.parse_location(f"<LocationConstraint {ns}/>".encode()) == "us-east-1"
    assert s3xml.parse_location(f"<LocationConstraint {ns}>EU</LocationConstraint>".encode()) == (
        "eu-west-1"
    )
    assert s3xml.parse_location(b"<LocationConstraint>ap-south-1</LocationConstraint>") == (
        "ap-south-1"
    )


def test_error_documents() -> None:
    body = b"<Error><Code>NoSuchKey</Code><Message>gone</Message><Key>k</Key></Error>"
    assert s3xml.parse_error(body) == ("NoSuchKey", "gone")
    assert s3xml.parse_error(b"<html>Bad Gateway</html>") is None
    assert s3xml.parse_error(b"not xml at all") is None


def test_entities_and_dtds_are_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;">]><Error><Code>&b;</Code></Error>'
    )
    assert s3xml.parse_error(bomb) is None
    with pytest.raises(errors.InternalError, match="malformed"):
        s3xml.parse_list_buckets(bomb)


def test_build_delete_escapes_keys() -> None:
    keys = ["a&b", "<tag>", "cr\rlf\n", 'q"uote', "é"]
    body = s3xml.build_delete(keys)
    root = SafeET.fromstring(body)
    parsed = [el.text for el in root.iter("{http://s3.amazonaws.com/doc/2006-03-01/}Key")]
    assert parsed == keys
    assert b"<Quiet>false</Quiet>" in body


def test_xml_safe() -> None:
    assert s3xml.xml_safe("tab\tcr\rlf\n é \U0001f600")
    assert not s3xml.xml_safe("nul\x00")
    assert not s3xml.xml_safe("bell\x07")
    assert not s3xml.xml_safe("\ufffe")


def test_build_complete_and_create_bucket() -> None:
    root = SafeET.fromstring(s3xml.build_complete([(1, '"e1"'), (2, '"e2"')]))
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    assert [
        (p.findtext(f"{ns}PartNumber"), p.findtext(f"{ns}ETag")) for p in root.iter(f"{ns}Part")
    ] == [("1", '"e1"'), ("2", '"e2"')]
    assert s3xml.build_create_bucket("us-east-1") is None
    made = s3xml.build_create_bucket("eu-central-1")
    assert made is not None and b"<LocationConstraint>eu-central-1<" in made


def test_malformed_values_are_s3_errors() -> None:
    with pytest.raises(errors.InternalError, match="date"):
        s3xml.parse_list_objects_v2(LIST_V2_URL.replace(b"2009-10-12T17:50:30.000Z", b"yesterday"))
    with pytest.raises(errors.InternalError, match="number"):
        s3xml.parse_list_parts(LIST_PARTS.replace(b"<Size>10485760", b"<Size>big"))
