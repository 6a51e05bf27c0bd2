"""A second reading of text and masked JSON: escapes undone, invisible characters
removed. A finding that shows only in that reading refuses the object.

The detectors read a line as it is, so `jane.canary\\u0040example.com` in a
text body, a JSON document held in a JSON string (`"{\\"e\\":\\"a\\\\u0040b.com\\"}"`)
or `4111\\u200b1111…` (a zero-width space, soft hyphen, BOM or NUL splitting
a value) hide a value from them while `json.loads`, a YAML reader or a
terminal shows it whole. Such a value cannot be rewritten in place exactly
(its bytes are not the value's), so the object is refused (`HiddenContent`).

What is read: a text line as it comes in (the text masker reads it as it
is; masking first could rewrite a piece of the hidden value and leave the
rest), JSON and JSONL as masked output (the JSON masker undoes one level of
escapes itself; a record that is not JSON is read as text). Only lines that
hold an escape or an invisible character pay for the second reading (a
hyperscan pass finds them); clean traces are not touched and the output is
never changed. The reading runs the detectors in force outside
any field rule (`Plan.root_scope`), and compares with the line as it is, so
what a profile keeps (`keep`) or what already shows is not refused again.
"""

from __future__ import annotations

import re
from collections import Counter

from s3gate.transform.detectors import Prefilter
from s3gate.transform.errors import HiddenContent
from s3gate.transform.matcher import find, scope_pairs
from s3gate.transform.plan import Plan
from s3gate.transform.scanner import Entry, Scanner
from s3gate.transform.summary import MaskSummary

# Default-ignorable code points (Unicode's Default_Ignorable_Code_Point,
# which renderers show as nothing) and NUL. `_INVISIBLE_UTF8` is the same set
# as UTF-8 bytes, for the precheck; a unit test keeps the two in step.
INVISIBLE = re.compile(
    "[\x00\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_INVISIBLE_UTF8 = (
    rb"\x00|\xc2\xad|\xcd\x8f|\xd8\x9c|\xe1\x85[\x9f\xa0]|\xe1\x9e[\xb4\xb5]"
    rb"|\xe1\xa0[\x8b-\x8f]|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xaf]"
    rb"|\xe3\x85\xa4|\xef\xb8[\x80-\x8f]|\xef\xbb\xbf|\xef\xbe\xa0|\xef\xbf[\xb0-\xb8]"
    rb"|\xf0\x9b\xb2[\xa0-\xa3]|\xf0\x9d\x85[\xb3-\xba]|\xf3\xa0[\x80-\xbf][\x80-\xbf]"
)
# What marks a line for the second reading: a `\uXXXX` / `\xHH` escape
# (JSON, YAML, Python, JavaScript) or an invisible character.
TRIGGER = re.compile(rb"\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2})|" + _INVISIBLE_UTF8)
# Hyperscan finds them at a scan's speed (a Python regex of this alternation
# halves the throughput of clean traces; the patterns are ASCII, `\xHH`).
_SCANNER = Scanner([Entry(Prefilter(TRIGGER.pattern), ("hidden", 0))])
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|([\\\"/bfnrt]))")
_SHORT = {"\\": "\\", '"': '"', "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
# Escapes inside escapes (a JSON document in a JSON string in a log line):
# each round undoes one level; bounded, since each round is a pass over the line.
MAX_LEVELS = 4
RULE = "content:hidden"


def _unescape(match: re.Match[str]) -> str:
    hex4, hex2, short = match.groups()
    if short is not None:
        return _SHORT[short]
    return chr(int(hex4 or hex2, 16))


def reading(text: str) -> str:
    """`text` as a reader that undoes escapes and ignores invisible
    characters shows it. Surrogates (escaped pairs) are joined; lone ones
    become U+FFFD."""
    for _ in range(MAX_LEVELS):
        if "\\" not in text:
            break
        undone = _ESCAPE.sub(_unescape, text)
        if undone == text:
            break
        text = undone
    text = INVISIBLE.sub("", text)
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _found(text: str, plan: Plan) -> Counter[tuple[str, str]]:
    """(refusal id, value) of the findings in `text` whose operator changes
    the value. By value, not count: the line as it is may show a piece of the
    hidden value (`u0000@example.com` in `jane.canary\\u0000@example.com`)."""
    hits = plan.scanner.scan(text.encode("utf-8", "surrogateescape"))
    dets = {plan.entry_detector[entry] for entry, _ in hits}
    dets.discard(-1)
    dets.discard(-2)
    pairs = scope_pairs(plan, {d for d in dets if d >= 0}, plan.root_scope)
    if not pairs:
        return Counter()
    return Counter(
        (f.bound.refusal_id, text[f.start : f.end])
        for f in find(text, pairs)
        if f.operator.kind != "keep"
    )


def check_lines(block: bytes, plan: Plan, summary: MaskSummary) -> None:
    """Refuse (`HiddenContent`) if a line of `block` shows a finding only
    once its escapes are undone and invisible characters removed."""
    stop = -1
    for _, end in _SCANNER.scan(block):
        if end <= stop:  # on a line already read
            continue
        start = block.rfind(b"\n", 0, end - 1) + 1  # a match holds no newline
        stop = block.find(b"\n", end - 1)
        stop = len(block) if stop < 0 else stop
        raw = block[start:stop].decode("utf-8", "surrogateescape")
        seen = reading(raw)
        if seen == raw:
            continue
        hidden = _found(seen, plan)
        if hidden:
            hidden -= _found(raw, plan)
        if hidden:
            rules = sorted({rule for rule, _ in hidden})
            summary.blocked = tuple(rules)
            raise HiddenContent(rules)
