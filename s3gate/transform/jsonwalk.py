"""Masking one JSON value (a JSONL record or a whole document) by splicing.

The value is walked token by token (its validity was checked before); each
string is decoded only when the prefilter flagged it (or it holds an escape
that could hide text), field rules follow the path, and every change is an
edit of the original bytes. What is not changed stays byte-identical:
spacing, key order, number spelling, escapes. A changed string is
re-encoded by `json.dumps` (ASCII-escaped if the original was pure ASCII); a
number something was found in becomes a JSON string (`jsonnumbers`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from s3gate.transform.fields import State
from s3gate.transform.jsonnumbers import DIGIT_STRING, is_number, key_held_digits, number_digits
from s3gate.transform.matcher import RunContext, apply, find, scope_pairs, string_positions
from s3gate.transform.operators import Operator

_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]|[^\s{}\[\],:"]+')
_SUSPICIOUS = re.compile(rb"\\u00[2-7][0-9A-Fa-f]|\\/")
Scope = dict[int, Operator | None]
Edit = tuple[int, int, bytes]


@dataclass
class _Frame:
    is_obj: bool
    state: State
    scope: Scope
    index: int = 0  # next element index (arrays)
    key: str | None = None  # current member key, as written (decoded)
    member_start: int = 0
    drops: list[tuple[int, int]] = field(default_factory=list)  # dropped members
    members: list[tuple[int, int]] = field(default_factory=list)  # all members
    dropping: bool = False  # the current member is dropped


@dataclass
class _Pending:
    """A container value kept, dropped or replaced whole: skip to its end."""

    start: int
    depth: int
    op: Operator | None  # None: nothing to write (kept or dropped)
    label: str


@dataclass(frozen=True)
class _Choice:
    op: Operator
    source: str  # counted under this id
    rule: bool
    refusal: str  # named to the client on block / hold
    label: str
    normalize: str


class JsonMasker:
    def __init__(self, raw: bytes, hits: list[tuple[int, int]], ctx: RunContext) -> None:
        self.raw = raw
        self.hits = hits  # (detector index, end offset), by end
        self.hit_pos = 0
        self.ctx = ctx
        self.plan = ctx.plan
        self.edits: list[Edit] = []
        self.pending: _Pending | None = None
        # The `hits` slice of the token `_candidates` looked at last.
        self.token_hits = (0, 0)

    # -- entry point -------------------------------------------------------

    def run(self) -> bytes | None:
        """The masked bytes, or None when nothing changed."""
        raw = self.raw
        stack: list[_Frame] = []
        pending: _Pending | None = None
        root_dropped = False
        for m in _TOKEN.finditer(raw):
            s, e = m.span()
            c = raw[s]
            if pending is not None:
                if c in b"{[":
                    pending.depth += 1
                elif c in b"}]":
                    pending.depth -= 1
                    if pending.depth == 0:
                        self._finish_pending(pending, e)
                        pending = None
                        if stack:
                            self._member_end(stack[-1], e)
                continue
            top = stack[-1] if stack else None
            if c == 0x3A:  # ':'
                continue
            if c == 0x2C:  # ','
                continue
            if c in b"}]":
                assert top is not None
                stack.pop()
                self._close(top, e)
                if stack:
                    self._member_end(stack[-1], e)
                continue
            if top is not None and top.is_obj and top.key is None:
                self._key(top, s, e)
                continue
            # A value: the root, a member's value or an array element.
            if top is None:
                state, scope, key = self.plan.selectors.root, self.plan.root_scope, None
            else:
                if not top.is_obj:
                    top.member_start = s
                comp: str | int = top.key if top.is_obj and top.key is not None else top.index
                state = self.plan.selectors.step(top.state, comp)
                scope, key = top.scope, top.key if top.is_obj else None
            outcome = self._value(s, e, c, state, scope, key, top)
            if outcome == "drop":
                if top is None:
                    root_dropped = True
                else:
                    top.dropping = True
            if c in b"{[":
                if outcome != "walk":
                    pending, self.pending = self.pending, None
                else:
                    new_scope = self._scope_for(state, scope)
                    stack.append(_Frame(c == 0x7B, state, new_scope))
                continue
            if top is not None:
                self._member_end(top, e)
        if root_dropped:
            return b"null"
        if not self.edits:
            return None
        return self._splice()

    # -- members -----------------------------------------------------------

    def _key(self, top: _Frame, s: int, e: int) -> None:
        top.member_start = s
        token = self.raw[s:e]
        key = decode_string(token)
        top.key = key
        dets = self._candidates(s, e, token)
        if not dets:
            return
        pairs = scope_pairs(self.plan, dets, top.scope)
        findings = find(key, pairs) if pairs else []
        if findings:
            new, dropped = apply(key, findings, self.ctx)
            if dropped:
                top.dropping = True
            else:
                self.edits.append((s, e, encode_string(new, token)))

    def _member_end(self, top: _Frame, e: int) -> None:
        top.members.append((top.member_start, e))
        if top.dropping:
            top.drops.append((top.member_start, e))
            # Edits inside a dropped member (a rewritten key) go with it.
            while self.edits and self.edits[-1][0] >= top.member_start:
                self.edits.pop()
        top.dropping = False
        top.key = None
        top.index += 1

    def _close(self, frame: _Frame, e: int) -> None:
        if not frame.drops:
            return
        members, dropped = frame.members, set(frame.drops)
        i = 0
        while i < len(members):
            if members[i] not in dropped:
                i += 1
                continue
            j = i
            while j + 1 < len(members) and members[j + 1] in dropped:
                j += 1
            if j + 1 < len(members):  # up to the next kept member
                span = (members[i][0], members[j + 1][0])
            elif i > 0:  # the tail: from the end of the previous kept member
                span = (members[i - 1][1], members[j][1])
            else:  # all of them
                span = (members[i][0], members[j][1])
            self.edits.append((span[0], span[1], b""))
            i = j + 1

    # -- values ------------------------------------------------------------

    def _value(
        self,
        s: int,
        e: int,
        c: int,
        state: State,
        scope: Scope,
        key: str | None,
        top: _Frame | None,
    ) -> str:
        """Apply whole-value rules and key-held secrets. Returns 'walk'
        (containers: descend), 'skip', 'drop' or 'replace'; a container that
        is skipped, dropped or replaced leaves `self.pending` set."""
        container = c in b"{["
        if top is not None and top.dropping:  # its key said drop
            self.pending = _Pending(s, 1, None, "") if container else None
            return "skip"
        choice = self._choose(s, e, state, scope, key, container)
        if choice is None:
            if not container:
                self._scalar(s, e, self._scope_for(state, scope), key, top)
            return "walk"
        op = choice.op
        if op.kind == "keep":
            self.pending = _Pending(s, 1, None, "") if container else None
            return "skip"
        self.ctx.count(choice.source, op, rule=choice.rule, refusal=choice.refusal)
        if op.kind == "drop":
            self.pending = _Pending(s, 1, None, "") if container else None
            return "drop"
        if container:
            self.pending = _Pending(s, 1, op, choice.label)
            return "replace"
        token = self.raw[s:e]
        value = decode_string(token) if token[:1] == b'"' else token.decode()
        new = self.ctx.replacement(op, value, choice.label, choice.normalize)
        self.edits.append((s, e, encode_string(new, token)))
        return "replace"

    def _choose(
        self, s: int, e: int, state: State, scope: Scope, key: str | None, container: bool
    ) -> _Choice | None:
        """The strongest whole-value decision at this value, if any."""
        plan = self.plan
        best: _Choice | None = None
        for idx in plan.selectors.accepting(state) if plan.selectors else ():
            rule = plan.rules[idx]
            if rule.operator is None or rule.detectors:
                continue
            label = rule.operator.label or rule.id.split(":", 1)[1].upper()
            cand = _Choice(rule.operator, rule.id, True, rule.id, label, "none")
            if best is None or cand.op.strength > best.op.strength:
                best = cand
        if key is None or container:
            return best
        best = self._number_key_choice(s, e, scope, key, best)
        for idx in plan.json_key_detectors:
            if idx not in scope:
                continue
            bound = plan.detectors[idx]
            det = bound.detector
            assert det.json_key is not None
            if not det.json_key.search(key):
                continue
            value = _scalar_text(self.raw[s:e])
            if value is None or not det.accepts_value(value):
                continue
            op = scope[idx] or bound.operator
            if best is None or op.strength > best.op.strength:
                label = op.label or det.label
                best = _Choice(op, det.id, False, bound.refusal_id, label, det.spec.normalize)
        return best

    def _number_key_choice(
        self, s: int, e: int, scope: Scope, key: str, best: _Choice | None
    ) -> _Choice | None:
        """A number (or digits-only string) under a key that names what it
        is (`"ssn": 536221234`): the detector's value, if its digits pass."""
        token = self.raw[s:e]
        if not (is_number(token) or DIGIT_STRING.match(token)):
            return best
        digits: str | None = ""  # read on the first detector whose key matches
        for idx in self.plan.number_key_detectors:
            bound = self.plan.detectors[idx]
            det = bound.detector
            if idx not in scope or not det.number_key or not det.number_key.search(key):
                continue
            digits = key_held_digits(token) if digits == "" else digits
            if digits is None:
                return best
            if not det.accepts_number(key, digits):
                continue
            op = scope[idx] or bound.operator
            if best is None or op.strength > best.op.strength:
                label = op.label or det.label
                best = _Choice(op, det.id, False, bound.refusal_id, label, det.spec.normalize)
        return best

    def _scalar(self, s: int, e: int, scope: Scope, key: str | None, top: _Frame | None) -> None:
        token = self.raw[s:e]
        number = is_number(token)
        dets = self._candidates(s, e, token, number=number)
        if not dets:
            return
        pairs = scope_pairs(self.plan, dets, scope)
        if not pairs:
            return
        near = None
        if token[:1] == b'"':
            text = decode_string(token)
            first, stop = self.token_hits
            near = string_positions(token, [(d, end - s) for d, end in self.hits[first:stop]])
        else:
            # A number is read as the integer it denotes where it is one
            # (`-4111…`, `4.111…e15` are the card 4111…): whatever a detector
            # finds in it, the value becomes a JSON string.
            text = (number_digits(token) if number else None) or token.decode()
        findings = find(text, pairs, key, near)
        if not findings:
            return
        new, dropped = apply(text, findings, self.ctx)
        if dropped:
            if top is None:
                self.edits.append((s, e, b"null"))
            else:
                top.dropping = True
            return
        self.edits.append((s, e, encode_string(new, token)))

    def _scope_for(self, state: State, scope: Scope) -> Scope:
        """Scope inside a container: detectors named by field rules that
        select it join (with the rule's operator, if it sets one)."""
        if not self.plan.selectors:
            return scope
        added: Scope | None = None
        for idx in self.plan.selectors.accepting(state):
            rule = self.plan.rules[idx]
            if not rule.detectors:
                continue
            added = dict(scope) if added is None else added
            for det in rule.detectors:
                added[det] = rule.operator
        return scope if added is None else added

    def _finish_pending(self, p: _Pending, e: int) -> None:
        if p.op is None:
            return
        raw = self.raw[p.start : e]
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
        new = self.ctx.replacement(p.op, canonical, p.label, "none")
        self.edits.append((p.start, e, json.dumps(new).encode()))

    # -- helpers -------------------------------------------------------------

    def _candidates(self, s: int, e: int, token: bytes, *, number: bool = False) -> set[int]:
        """Detectors whose prefilter hit ends inside this token. A number's
        also counts a hit ending one byte after it: prefilters that must see
        the end of a digit run (the card's) consume the delimiter after it,
        which for a string is its closing quote, inside the token."""
        hits, pos = self.hits, self.hit_pos
        while pos < len(hits) and hits[pos][1] <= s:
            pos += 1
        found = set()
        scan = pos
        last = e + 1 if number else e
        while scan < len(hits) and hits[scan][1] <= last:
            found.add(hits[scan][0])
            scan += 1
        self.hit_pos = pos
        self.token_hits = (pos, scan)
        if b"\\" in token and _SUSPICIOUS.search(token):
            found.update(range(len(self.plan.detectors)))
        return found

    def _splice(self) -> bytes:
        self.edits.sort(key=lambda edit: edit[0])
        out, pos = [], 0
        for s, e, rep in self.edits:
            out.append(self.raw[pos:s])
            out.append(rep)
            pos = e
        out.append(self.raw[pos:])
        return b"".join(out)


def decode_string(token: bytes) -> str:
    if b"\\" not in token:
        return token[1:-1].decode("utf-8")
    value = json.loads(token)
    assert isinstance(value, str)
    return value


def _scalar_text(token: bytes) -> str | None:
    """A scalar's text for key-held secrets: strings, and numbers (a PIN)."""
    if token[:1] == b'"':
        return decode_string(token)
    if token in (b"true", b"false", b"null"):
        return None
    return token.decode()


def encode_string(new: str, original: bytes) -> bytes:
    return json.dumps(new, ensure_ascii=original.isascii()).encode("utf-8")
