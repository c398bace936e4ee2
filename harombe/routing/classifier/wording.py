"""The instruction's wording: the words it is written in, each with a weight fitted on the sets.

The features (`features.py`) describe the task through closed lists and shapes; the wording adds
what such lists miss, the way people phrase an easy or a hard request ("what does", "just",
"would", "build", "every"). Only words that many independent writers used carry a weight
(`train.WORD_MIN_SETS`), so a weight is about phrasing, not about one writer's topics. A word
counts once however often it occurs. The weights live in `word_weights.json`, written by
`python -m harombe.routing.classifier.train --write` next to `weights.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from harombe.routing.classifier.scan import FRAGMENT_CHAR_RE, FRAGMENT_CHARS

WORD_WEIGHTS_FILE = Path(__file__).with_name("word_weights.json")
WORDING_CHARS = 4096  # the instruction's words are read from this many characters at most
_WORD_RE = re.compile(f"[{FRAGMENT_CHARS}]+|[^\\W{FRAGMENT_CHARS}]+")
"""A run of a script that writes no spaces between words, or a word of any other script."""


def words(text: str) -> frozenset[str]:
    """The distinct words of lowercased `text` (its first `WORDING_CHARS`); a run of Chinese,
    Japanese, Korean or Thai letters gives its pairs of neighbouring letters instead (those
    scripts do not space their words)."""
    found: set[str] = set()
    for word in _WORD_RE.findall(text, 0, WORDING_CHARS):
        if len(word) > 2 and FRAGMENT_CHAR_RE.match(word):
            found.update(word[i : i + 2] for i in range(len(word) - 1))
        else:
            found.add(word)
    return frozenset(found)


def wording_score(found: frozenset[str], weights: Mapping[str, float]) -> float:
    return sum(weights[word] for word in found & weights.keys())


def load_word_weights(path: Path = WORD_WEIGHTS_FILE) -> dict[str, float]:
    return {
        str(word): float(weight) for word, weight in json.loads(path.read_text("utf-8")).items()
    }
