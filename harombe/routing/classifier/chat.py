"""A chat taken apart: the task (final user turn), its instruction and its pasted payload.

The task is the final user turn. A long turn is a pasted text with the instruction before or
after it, so only its edges are read as the instruction (the "ask"); the rest is payload, whose
size counts but whose words do not. Quoted words and code are masked first, so asking what
'analyze' means is not an analysis. A turn longer than `SAMPLE_ABOVE_CHARS` is read as a
bounded sample with counts extrapolated: a 4 MB paste costs about what 4 KB does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harombe.routing.classifier.cues import asks_for_work, opens_with_work
from harombe.routing.classifier.shapes import WH_RE

CHARS_PER_TOKEN = 4

SAMPLE_ABOVE_CHARS = 4096
"""A final turn longer than this (attachments removed) is read as its head and tail (where the
instruction is) whole and the middle in evenly spaced windows, with counts extrapolated."""
SAMPLE_EDGE_CHARS = 1536  # head and tail kept whole
SAMPLE_WINDOWS = 8  # windows of the middle ...
SAMPLE_WINDOW_CHARS = 192  # ... of this many characters each

WHOLE_ASK_WORDS = 80  # a turn of several paragraphs up to this long is all instruction
SINGLE_PARAGRAPH_ASK_WORDS = 250  # ... and of one paragraph (a list of constraints, say)
EDGE_FIRST_WORDS = 60  # a paragraph up to this long asks by any task word; longer, by a
# question or a request (`_is_instruction`)
EDGE_LONG_FIRST_WORDS = 120  # longer turns: the first paragraph counts when at most this long
EDGE_LAST_WORDS = 120  # ... and the last paragraph when at most this long (else its end)
OPENING_CHARS = 40  # a paragraph that opens with a task word ("Summarise ...") is an instruction

_GO_AHEAD_RE = re.compile(
    r"(?:(?:yes|yep|yeah|sure|ok|okay|great|perfect|sounds good|that works)[,.! ]*)*(?:please )?"
    r"(?:go ahead|do it|proceed|let'?s do it|go for it|please do|do that|make it so)[.! ]*$",
    re.I,
)
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_DOC_OPEN, _DOC_CLOSE = "<attached_document>", "</attached_document>"
_FENCE_RE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE_RE = re.compile(r"`[^`\n]{1,200}`")
_QUOTE_RE = re.compile(  # every alternative starts with its quote mark: a fast first-char scan
    r"'(?<![\w']')([^'\n]{1,300}?)'(?!\w)|\"([^\"\n]{1,300}?)\"|“([^”]{1,300}?)”|«([^»]{1,300}?)»|"
    r"„([^“]{1,300}?)“|「([^」]{1,300}?)」"
)
_PARA_RE = re.compile(r"\n\s*\n")
_CAPS_RE = re.compile(r"\b[A-Z]{4,}\b")
_LOWER_RE = re.compile(r"[a-z]")
_RULE_RE = re.compile(r"^[^\S\n]*([-*_=~])(?:[^\S\n]*\1){2,}[^\S\n]*$", re.M)
"""A horizontal rule ("---") between a paste and the question: a paragraph break, no text."""
_RULES = ("---", "***", "___", "===", "~~~")  # looked for first: `str.find` is much faster
_SENT_RE = re.compile(r"(?<=[.?!。？！])\s+|\n+")
_CODE_LINE_RE = re.compile(
    r"\s*(?:def |class |import |from \w+ import|function |const |let |var |for\s*\(|#include|"
    r"public |private |func |fn |SELECT |FROM |(?:LEFT |INNER )?JOIN |WHERE |GROUP BY |ORDER BY |"
    r"if\s*\(|while\s*\(|return\b|//|/\*)|"
    r"\s*[\w.]+\(.*\)\s*$|"  # a signature or a table's columns: t(id, total)
    r"\s*(?:- )?[\w.-]+:(?:\s+\S+)?\s*$|"  # YAML: "image: postgres:16"
    r"\s*- \S+\s*$|"  # ... and "- dbdata:/data"
    r"Traceback \(|\s*File \"[^\"]+\", line \d|"  # a traceback ...
    r"\s*[\w.]*(?:Error|Exception|Warning):|\s*(?:[a-z_]\w*\.)+[A-Z]\w*:|"  # ... its exception
    r"\s*\[?(?:\d{4}[-/.]\d\d[-/.]\d\d[ T]|\d\d?:\d\d:\d\d)|"  # a log line: its timestamp ...
    r"\s*\[?(?:ERROR|WARN|WARNING|INFO|DEBUG|FATAL|CRITICAL|TRACE)\b"  # ... or its level
)
"""A code-like line, matched from the start of one line (no newline in it)."""
_ASSIGNMENT_RE = re.compile(
    r"\s*[\w.]+(?:\[.*\])?\s*[-+*/]?=\s*(?:[\w.]+\(.*\)|[\[{].*[\]}]|[A-Za-z_][\w.]*)\s*$"
)
"""... or an assignment of a call or a literal: "rows = db.load(user)" (tried on lines with "=")."""
_LITERAL_RE = re.compile(r"\s*(?:\{.*\}|\[.*\]|=[A-Z][A-Z0-9.]*\(.*\))\s*$")
"""A pasted JSON object or list, or a spreadsheet formula, on one line: code even alone."""
UNFENCED_CODE_LINES = 2  # this many code-like lines in a row are masked as a fenced block
_INSTRUCTION_RE = re.compile(  # a paragraph that asks: a question, a request, an imperative
    r"[?？]|\b(?:please|can you|could you|would you|i need|i want|i'd like|help me|here is|"
    r"here are|here's|"
    r"below|the following|pasting|pasted|attached|tell me|give me|let me know|"
    r"bitte|por favor|peux-tu|pouvez-vous)\b|请|帮",
    re.I,
)


@dataclass
class Task:
    """The final user turn, taken apart."""

    ask: str  # the instruction: the whole turn, or the edges around a pasted text
    ask_words: int
    payload_words: int  # words of pasted text and quotes outside the ask (extrapolated)
    paragraphs: int  # paragraphs of the whole turn (extrapolated)
    code_blocks: int
    code_lines: int  # lines inside fences and code-like lines outside them (extrapolated)
    inline_code: bool
    has_attachment: bool


def text_of(content: Any) -> str:
    """Plain text of a message content: str, None, or OpenAI-style list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(getattr(part, "text", None), str):
                parts.append(part.text)
        return "\n".join(parts)
    return str(content)


def role_and_text(message: Any) -> tuple[str, str]:
    if isinstance(message, dict):
        return str(message.get("role") or ""), text_of(message.get("content"))
    return str(getattr(message, "role", "") or ""), text_of(getattr(message, "content", None))


def final_turn(turns: list[tuple[str, str]]) -> str:
    """The task: the last user turn's text (the last turn's when no user spoke). A last turn
    that only says "go ahead" accepts what the assistant offered to do: the task is that offer,
    with the user turn it answered."""
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if not users:
        return turns[-1][1] if turns else ""
    last = turns[users[-1]][1]
    offer = [text for role, text in turns[: users[-1]] if role == "assistant"]
    if len(users) > 1 and offer and _GO_AHEAD_RE.match(last.strip()):
        return f"{turns[users[-2]][1]}\n\n{offer[-1]}"
    return last


def n_words(text: str) -> int:
    """Words, counting two CJK characters as one."""
    return len(text.split()) + (0 if text.isascii() else len(CJK_RE.findall(text)) // 2)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT_RE.split(text) if s.strip() and s.strip() != "[code]"]


def _strip_attachments(text: str) -> tuple[str, bool]:
    """Text without `<attached_document>` blocks (str.find: attachments can be huge)."""
    start = text.find(_DOC_OPEN)
    if start < 0:
        return text, False
    kept = []
    while start >= 0:
        end = text.find(_DOC_CLOSE, start)
        kept.append(text[:start])
        text = "" if end < 0 else text[end + len(_DOC_CLOSE) :]
        start = text.find(_DOC_OPEN)
    kept.append(text)
    return " ".join(kept), True


def _is_instruction(text: str) -> bool:
    """Whether a paragraph asks for something: it introduces what follows (a colon), or it
    `_asks` (a long one only by a question or a request: a pasted text's sentences may open
    with a task word)."""
    if text.rstrip().endswith(":"):
        return True
    if n_words(text) <= EDGE_FIRST_WORDS:
        return _asks(text)
    return _INSTRUCTION_RE.search(text) is not None


def _leads(head: str) -> bool:
    """Whether a first paragraph is the instruction: it reads as one, or one of its sentences
    opens with a task word ("We got this review back. Draft a response letter. Context: ...")."""
    return _is_instruction(head) or any(opens_with_work(s.lower()) for s in sentences(head))


def _asks(text: str) -> bool:
    """Whether a paragraph asks: a question (a question word may open one without its mark),
    a request or a sentence opening with a task."""
    return (
        _INSTRUCTION_RE.search(text) is not None
        or WH_RE.match(text.lower()) is not None
        or any(_opens_task(s) for s in sentences(text))
    )


def _opens_task(text: str) -> bool:
    """Whether text opens with a task word ("Summarise ...", "from this chat, make a list")."""
    return asks_for_work(text[:OPENING_CHARS].lower(), also=("enumerate",))


def _asks_again(tail: str) -> bool:
    """Whether a last paragraph asks something after a first one that asked a question: a
    question, a colon of its own, or a sentence that opens with a task word, after at most a
    short lead ("Also, summarise it"; a pasted text's "Overall: one of my better sessions" or
    "please call 111" is not)."""
    if "?" in tail or "？" in tail or tail.rstrip().endswith(":"):
        return True
    return any(opens_with_work(s.lower(), also=("enumerate",)) for s in sentences(tail))


def _cut(paragraph: str) -> str:
    """A paragraph, or for a long one its first and last two sentences."""
    if n_words(paragraph) <= EDGE_LAST_WORDS:
        return paragraph
    parts = sentences(paragraph)
    return "\n".join(parts[:2] + parts[-2:])


def _edges(body: str, paras: list[str], words: int) -> str:
    """The instruction part of a turn: all of a short one, the edges of a long one.

    The first paragraph counts if it is not long and reads as an instruction (or, cut when long,
    if only code follows), the last one if it reads as one (after a first paragraph that asked
    a question: if it asks again) or nothing else does (cut to its last sentences when long).
    """
    if len(paras) <= 1:
        if words <= SINGLE_PARAGRAPH_ASK_WORDS:
            return body
        parts = sentences(body)
        return "\n".join(parts[:1] + parts[-2:])
    head = paras[0]
    if words <= WHOLE_ASK_WORDS:
        pasted_after_question = head.endswith(("?", "？")) and not any(
            _is_instruction(p) for p in paras[1:]
        )  # "What's the main finding in this abstract?" and the abstract
        return head if pasted_after_question else body
    tail = paras[-1]
    if not sentences(tail) and _asks(head):  # the instruction, then code alone
        return _cut(head)
    head = head if n_words(head) <= EDGE_LONG_FIRST_WORDS and _leads(head) else ""
    if n_words(tail) > EDGE_LAST_WORDS:
        tail = "\n".join(sentences(tail)[-2:])
    asks = _asks_again(tail) if head.endswith(("?", "？")) else _is_instruction(tail)
    if head and not asks:
        return head
    return f"{head}\n\n{tail}" if head else tail


def _trim_to_words(piece: str, cut_start: bool, cut_end: bool) -> str:
    """`piece` without the partial words a cut left at either end."""
    if cut_start and (space := piece.find(" ")) >= 0:
        piece = piece[space + 1 :]
    if cut_end and (space := piece.rfind(" ")) >= 0:
        piece = piece[:space]
    return piece


def bounded_sample(body: str) -> tuple[str, float]:
    """`body`, or for a long one its head, tail and middle windows (as paragraphs), with the
    factor by which counts taken on the sample scale to the whole (1.0 when not sampled)."""
    if len(body) <= SAMPLE_ABOVE_CHARS:
        return body, 1.0
    edge = SAMPLE_EDGE_CHARS
    head = _trim_to_words(body[:edge], False, True)
    tail = _trim_to_words(body[-edge:], True, False)
    middle_start, middle_end = edge, len(body) - edge
    stride = (middle_end - middle_start) // SAMPLE_WINDOWS
    windows = [
        _trim_to_words(body[at : at + SAMPLE_WINDOW_CHARS], True, True)
        for at in range(middle_start, middle_end - SAMPLE_WINDOW_CHARS, stride)
    ][:SAMPLE_WINDOWS]
    sample = "\n\n".join([head, *windows, tail])
    return sample, len(body) / len(sample)


def _mask_code_lines(body: str) -> tuple[str, int]:
    """`body` with each run of `UNFENCED_CODE_LINES` or more code-like lines (blank lines may
    sit between them), or a JSON object or list alone, masked as a block, as a fenced one is:
    code pasted without a fence has no sentences to read. Also the number of code-like lines."""
    lines = body.split("\n")
    code = [
        n
        for n, line in enumerate(lines)
        if _CODE_LINE_RE.match(line)
        or line.rstrip().endswith((";", "{", "}"))
        or ("=" in line and (_ASSIGNMENT_RE.match(line) or _LITERAL_RE.match(line)))
    ]
    if not code:
        return body, 0
    runs: list[list[int]] = []  # [first, last, code-like lines]
    for n in code:
        if runs and not any(lines[k].strip() for k in range(runs[-1][1] + 1, n)):
            runs[-1][1:] = [n, runs[-1][2] + 1]
        else:
            runs.append([n, n, 1])
    for first, last, count in reversed(runs):
        if count >= UNFENCED_CODE_LINES or _LITERAL_RE.match(lines[first]):
            lines[first : last + 1] = ["", "[code]", ""]
    return "\n".join(lines), len(code)


def split_task(task: str) -> Task:
    """The final user turn taken apart; a long one by way of `bounded_sample`."""
    body, has_attachment = _strip_attachments(task)
    body, scale = bounded_sample(body)
    code_blocks = _FENCE_RE.findall(body) if "```" in body else []  # str.find is much faster
    if code_blocks:
        body = _FENCE_RE.sub("\n\n[code]\n\n", body)
    code_lines = sum(block.count("\n") for block in code_blocks)
    body, unfenced = _mask_code_lines(body)
    code_lines += unfenced
    inline_code = _INLINE_CODE_RE.search(body) is not None
    body = _INLINE_CODE_RE.sub(" `code` ", body)
    words_before = n_words(body)
    body, quotes = _QUOTE_RE.subn(" 'quote' ", body)
    words = n_words(body)
    quoted_words = words_before - words + quotes  # each quote became one word
    if any(rule in body for rule in _RULES):
        body = _RULE_RE.sub("\n", body)
    paras = [p.strip() for p in _PARA_RE.split(body) if p.strip()]
    ask = _edges(body, paras, words).strip()
    if _LOWER_RE.search(ask):  # names in capitals ("Postgres's ANALYZE"), unless all shout
        ask = _CAPS_RE.sub("CAPS", ask)
    ask_words = n_words(ask)
    return Task(
        ask=ask,
        ask_words=ask_words,
        payload_words=max(0, round((words - ask_words + quoted_words) * scale)),
        paragraphs=round(len(paras) * scale),
        code_blocks=len(code_blocks),
        code_lines=round(code_lines * scale),
        inline_code=inline_code,
        has_attachment=has_attachment,
    )
