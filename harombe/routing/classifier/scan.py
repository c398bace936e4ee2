"""The task families' word lists compiled for speed: one small regex per first letter.

All families as one alternation (`reference_pattern`) is the meaning, but Python's `re` tries
every one of its ~600 alternatives at every word start, a microsecond or two per word. Here
the alternatives are filed by the letters they can begin with (read from the parsed pattern,
so nothing is listed twice by hand), and a word start tries only those of its letter, in the
families' order: the same matches, found the same way, several times faster. Fragments of
the scripts that write no spaces between words (`FRAGMENT_CHARS`), which match inside a run of
characters, keep one regex of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from re import _parser as sre_parse  # the parser `re` itself uses (Python 3.11 and later)
from re._constants import (
    ASSERT,
    ASSERT_NOT,
    AT,
    BRANCH,
    IN,
    LITERAL,
    MAX_REPEAT,
    MIN_REPEAT,
    RANGE,
    SUBPATTERN,
)

FRAGMENT_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f"
"""Kana, CJK, Hangul and Thai: scripts whose words are matched anywhere in a run of letters
(Chinese, Japanese and Thai write no spaces between words)."""
_WORD_START_RE = re.compile(r"(?<!\w)\w")
FRAGMENT_CHAR_RE = re.compile(f"[{FRAGMENT_CHARS}]")
_MAX_RANGE = 64  # a character class wider than this is not a first-letter filter


def reference_pattern(families: Mapping[str, tuple[str, str]]) -> str:
    """All families as one alternation, a named group each: what `CueScanner` matches."""
    return "|".join(
        f"(?P<{name}>(?<!\\w)(?=\\w)(?:{latin})|(?=[{FRAGMENT_CHARS}])(?:{cjk}))"
        if cjk
        else f"(?P<{name}>(?<!\\w)(?=\\w)(?:{latin}))"
        for name, (latin, cjk) in families.items()
    )


def split_alternatives(source: str) -> list[str]:
    """The top-level alternatives of a pattern's source: "a|(b|c)|d" -> a, (b|c), d."""
    parts, current, depth, in_class, escaped = [], [], 0, False, False
    for ch in source:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def first_letters(source: str) -> frozenset[str]:
    """The characters a match of `source` can begin with; ValueError when any could."""
    letters = _first(list(sre_parse.parse(source)))
    if letters is None:
        raise ValueError(f"cannot tell how {source!r} begins; start it with letters")
    return frozenset(letters)


def _first(items: list) -> set[str] | None:
    for op, arg in items:
        if op in (ASSERT, ASSERT_NOT, AT):  # zero width: what follows begins the match
            continue
        if op is LITERAL:
            return {chr(arg)}
        if op is IN:
            letters: set[str] = set()
            for kind, value in arg:
                if kind is LITERAL:
                    letters.add(chr(value))
                elif kind is RANGE and value[1] - value[0] < _MAX_RANGE:
                    letters.update(map(chr, range(value[0], value[1] + 1)))
                else:
                    return None
            return letters
        if op is SUBPATTERN:
            return _first(list(arg[-1]))
        if op is BRANCH:
            options = [_first(list(branch)) for branch in arg[1]]
            return None if None in options else set().union(*options)  # type: ignore[arg-type]
        if op in (MAX_REPEAT, MIN_REPEAT) and arg[0] >= 1:
            return _first(list(arg[2]))
        return None
    return None


class CueScanner:
    """`finditer`/`match` of `reference_pattern(families)`, a regex per first letter."""

    def __init__(self, families: Mapping[str, tuple[str, str]]) -> None:
        by_letter: dict[str, dict[str, list[str]]] = {}
        for name, (latin, _) in families.items():
            for alternative in split_alternatives(latin):
                for letter in first_letters(alternative):
                    by_letter.setdefault(letter, {}).setdefault(name, []).append(alternative)
        if any(FRAGMENT_CHAR_RE.match(letter) for letter in by_letter):
            raise ValueError("fragments (CJK, Thai) belong in a family's second pattern")
        order = list(families)
        self._latin = {
            letter: re.compile(
                "|".join(f"(?P<{name}>{'|'.join(named[name])})" for name in order if name in named)
            )
            for letter, named in by_letter.items()
        }
        self._cjk = re.compile(
            "|".join(f"(?P<{name}>{cjk})" for name, (_, cjk) in families.items() if cjk)
        )

    def match(self, low: str, pos: int = 0) -> re.Match[str] | None:
        """A family's word starting at `pos` (a word start, or any of `FRAGMENT_CHARS`)."""
        if pos >= len(low):
            return None
        if FRAGMENT_CHAR_RE.match(low, pos):
            return self._cjk.match(low, pos)
        if pos and (low[pos - 1].isalnum() or low[pos - 1] == "_"):
            return None
        rx = self._latin.get(low[pos])
        return rx.match(low, pos) if rx else None

    def finditer(self, low: str) -> Iterator[re.Match[str]]:
        """Every family word in `low`, left to right, not overlapping."""
        starts = [m.start() for m in _WORD_START_RE.finditer(low)]
        if FRAGMENT_CHAR_RE.search(low):
            starts = sorted({*starts, *(m.start() for m in FRAGMENT_CHAR_RE.finditer(low))})
        end = 0
        for pos in starts:
            if pos < end:
                continue
            found = self.match(low, pos)
            if found is not None:
                yield found
                end = found.end()
