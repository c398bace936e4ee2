"""Matching signals fast: a regex per signal, tried only where a word starts as it can.

Signal patterns are matched against lower-cased text at word starts. Each pattern's possible
first letters ("heads") are worked out once from its source, so a text is scanned once for its
word starts and a pattern is tried only at positions that can match, which skips most of the
(slow) regex scans.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_HEAD_LEN = 4
_REGEX_META = frozenset(".^$*+?{}[]()|\\")
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def alternatives(source: str) -> list[str]:
    """The top-level alternatives of a regex source."""
    parts, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0:
            parts.append(source[start:i])
            start = i + 1
        i += 1
    parts.append(source[start:])
    return parts


def _heads(source: str) -> frozenset[str] | None:
    """The word starts (up to `_HEAD_LEN` letters) every match of `source` begins with, or None.

    A signal whose heads are known is only run when a word of the text starts with one of them,
    which skips most of the (slow) regex scans.
    """
    heads: set[str] = set()
    for alt in alternatives(source):
        if alt.startswith("(?:"):
            depth, close = 0, -1
            for i, c in enumerate(alt):
                depth += (c == "(") - (c == ")")
                if depth == 0:
                    close = i
                    break
            if close < 0 or alt[close + 1 : close + 2] in ("?", "*", "{"):
                return None
            inner = _heads(alt[3:close])
            if inner is None:
                return None
            heads |= inner
            continue
        if alt.startswith("\\d"):
            heads.update("0123456789")
            continue
        if alt.startswith("[") and (end := alt.find("]")) > 1:
            chars = alt[1:end]
            if not chars.isalnum() or alt[end + 1 : end + 2] in ("?", "*", "{"):
                return None
            heads.update(chars)
            continue
        head = ""
        for c in alt:
            if c in _REGEX_META or not c.isalnum():
                break
            head += c
        if alt[len(head) : len(head) + 1] in ("?", "*", "{"):
            head = head[:-1]
        if not head:
            return None
        heads.add(head[0] if CJK_RE.match(head[0]) else head[:_HEAD_LEN])
    return frozenset(heads)


@dataclass(frozen=True)
class Signal:
    name: str
    weight: float  # added to the task score; negative for signs of a simple request
    pattern: re.Pattern[str]
    reason: str
    heads: frozenset[str] | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", _heads(self.pattern.pattern))


def rx(pattern: str) -> re.Pattern[str]:
    """A signal pattern, matched against lower-cased text.

    Alternatives do not start with `\\b`: that would defeat the regex engine's first-character
    scan and make matching several times slower; `found` checks the word boundary instead.
    """
    return re.compile(pattern)


_TOKEN_RE = re.compile(r"\w+")


def found(pattern: re.Pattern[str], text: str) -> bool:
    """Whether `pattern` matches in `text` at the start of a word (or at a CJK character)."""
    for m in pattern.finditer(text):
        start = m.start()
        first = text[start]
        before = text[start - 1] if start else " "
        if not (before.isalnum() or before == "_") or not first.isalnum() or CJK_RE.match(first):
            return True
    return False


def _word_starts(text: str) -> dict[str, list[int]]:
    """Where words start, by their first 1 to `_HEAD_LEN` letters; CJK characters each count."""
    starts: dict[str, list[int]] = {}
    for m in _TOKEN_RE.finditer(text):
        word, pos = m.group(), m.start()
        for n in range(1, min(len(word), _HEAD_LEN) + 1):
            head = word[:n]
            if head in starts:
                starts[head].append(pos)
            else:
                starts[head] = [pos]
    if not text.isascii():
        for m in CJK_RE.finditer(text):
            starts.setdefault(m.group(), []).append(m.start())
    return starts


def _signal_found(signal: Signal, text: str, starts: dict[str, list[int]]) -> bool:
    """`found`, but trying the pattern only where a word starts with one of its heads."""
    if signal.heads is None:
        return found(signal.pattern, text)
    match = signal.pattern.match
    for head in signal.heads:
        for pos in starts.get(head, ()):
            if match(text, pos):
                return True
    return False


Prepared = list[tuple[str, dict[str, list[int]]]]


def prepare(texts: Iterable[str]) -> Prepared:
    """Lower-cased texts with their word starts, for `matches`."""
    return [(low, _word_starts(low)) for low in (text.lower() for text in texts)]


def matches(signals: Iterable[Signal], prepared: Prepared) -> list[Signal]:
    return [s for s in signals if any(_signal_found(s, t, starts) for t, starts in prepared)]
