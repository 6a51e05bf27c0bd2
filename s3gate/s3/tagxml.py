"""The `Tagging` XML document: PutObjectTagging's body (untrusted, parsed
with the limits of `s3.tagging`) and GetObjectTagging's answer. The store
answers GetObjectTagging with the same document, so the S3 upstream reads it
with `parse_xml` too."""

from __future__ import annotations

from s3gate import errors
from s3gate.s3 import xmldoc
from s3gate.s3.tagging import MAX_TAGS, Tag, TagSet, check, too_many


def parse_xml(body: bytes, *, checked: bool = True, max_tags: int = MAX_TAGS) -> TagSet:
    """A `<Tagging><TagSet><Tag><Key/><Value/></Tag>…` document (size
    already bounded by the caller), checked against the limits (`checked`
    False: the store's answer, taken as it is)."""
    root = xmldoc.parse_xml(body)
    if xmldoc.local_name(root.tag) != "Tagging":
        raise errors.MalformedXML()
    sets = xmldoc.children(root, "TagSet")
    if len(sets) != 1:
        raise errors.MalformedXML()
    elements = xmldoc.children(sets[0], "Tag")
    if checked and len(elements) > max_tags:  # before looking at any of them
        raise too_many(max_tags)
    tags = []
    for element in elements:
        key, value = xmldoc.text_of(element, "Key"), xmldoc.text_of(element, "Value")
        if key is None or value is None:
            raise errors.MalformedXML()
        tags.append(Tag(key, value))
    return check(tuple(tags), max_tags) if checked else tuple(tags)


def document(tags: TagSet) -> bytes:
    """The `Tagging` document: GetObjectTagging's answer, PutObjectTagging's body."""
    items = "".join(
        f"<Tag>{xmldoc.element('Key', t.key)}{xmldoc.element('Value', t.value)}</Tag>" for t in tags
    )
    return f'{xmldoc.HEAD}<Tagging xmlns="{xmldoc.NS}"><TagSet>{items}</TagSet></Tagging>'.encode()
