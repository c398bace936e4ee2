"""Features of a chat: the task (final user turn) taken apart, its size and its shape.

The task is the final user turn; of a long turn only its edges (the instruction around a pasted
document) are read for task signals, so a long text with a trivial question stays simple while
the same text with "summarize and critique" does not. Quoted words and code are masked first,
so asking what 'analyze' means is not an analysis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harombe.routing.classifier.matching import CJK_RE, found

SIMPLE, MEDIUM, COMPLEX = 0, 1, 2

CHARS_PER_TOKEN = 4
CONTEXT_TIER_LIMITS = (2000, 8000)  # estimated tokens up to which context tier 0, 1 applies
WHOLE_ASK_WORDS = 80  # a final turn of several paragraphs up to this long is all instruction
SINGLE_PARAGRAPH_ASK_WORDS = 250  # ... and of one paragraph (a list of constraints, say)
EDGE_FIRST_WORDS = 60  # longer turns: the first paragraph counts when at most this long
EDGE_LAST_WORDS = 120  # ... and the last paragraph when at most this long (else its end)

SAMPLE_ABOVE_CHARS = 4096
"""A final turn longer than this (attachments removed) is read as a bounded sample: its head
and tail (where the instruction is) whole, the middle in evenly spaced windows, with counts
extrapolated. This bounds the classifier's cost: a 4 MB paste costs about what 4 KB does."""
SAMPLE_EDGE_CHARS = 1536  # head and tail kept whole
SAMPLE_WINDOWS = 8  # windows of the middle ...
SAMPLE_WINDOW_CHARS = 192  # ... of this many characters each


_DOC_OPEN, _DOC_CLOSE = "<attached_document>", "</attached_document>"
_FENCE_RE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE_RE = re.compile(r"`[^`\n]{1,200}`")
_QUOTE_RE = re.compile(  # every alternative starts with its quote mark: a fast first-char scan
    r"'(?<![\w']')([^'\n]{1,300}?)'(?!\w)|\"([^\"\n]{1,300}?)\"|“([^”]{1,300}?)”|«([^»]{1,300}?)»|"
    r"„([^“]{1,300}?)“|「([^」]{1,300}?)」"
)
_PARA_RE = re.compile(r"\n\s*\n")
_SENT_RE = re.compile(r"(?<=[.?!。？！])\s+|\n+")
_ITEM_SEP_RE = re.compile(r"[,;，；、]")
_LIST_LINE_RE = re.compile(r"^\s*(?:[-*•|]|\d+[.)])\s", re.M)
_LAST_ITEM_RE = re.compile(
    r",[^,;.\n]{1,60}\s(?:and|et|y|und|e|和|及)\s[^,;]{1,60}[.!?]?\s*$", re.M
)
_PAREN_RE = re.compile(r"\([^()]*\)|\{[^{}]*\}|\[[^\[\]]*\]")
_NUMBER_RE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_QUANTITY_RE = re.compile(
    r"(?<![\w.])\d[\d,]*(?:\.\d+)?|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|twenty|hundred|thousand|twice|thrice|half|double|triple|dozen)\b",
)
_QUANT_QUESTION_RE = re.compile(
    r"\b(?:how\s+(?:many|much|long|far|old|wide|tall|fast|high|deep|big|often)|what|at\s+what|"
    r"when\s+will|find|calculate|compute|determine|work\s+out)\b",
)
_CONSTRAINT_RE = re.compile(
    r"\b(?:no|not|never|only|must|without|except|budget|excluding|avoid|deadline|required|"
    r"can'?t|cannot|at\s+(?:least|most)|no\s+more\s+than|need\s+to|needs|within|under)\b",
)
_CODE_LINE_RE = re.compile(
    r"^\s*(?:def |class |import |from \w+ import|function |const |let |var |for\s*\(|"
    r"#include|public |private |func |fn |SELECT |if\s*\(|while\s*\(|return\b)|[;{}]\s*$",
    re.M,
)
TECH_RE = re.compile(
    r"\b(?:python|javascript|typescript|java|rust|golang|c\+\+|sql|postgres|mysql|docker|"
    r"kubernetes|npm|pip|git|api|server|script|function|compile[rd]?|build|deploy|app|code|"
    r"program|container|browser|query|database|regex|react|node|linux|bash|shell)\b",
)
_MATH_RE = re.compile(r"[≥≤≠√∑∏∫∞ℝℕℤℚ²³⁴⁵ⁿ→∀∃≡]|\b[a-z]\([a-z]\)|\b[a-z]_\{?\w|\^\w|\bn!")
_MATH_TERMS_RE = re.compile(
    r"\b(?:positive\s+integers?|real\s+numbers?|such\s+that|perfect\s+squares?|primes?|"
    r"divisible|modulo|polynomials?|inequalit(?:y|ies)|sequences?|converges?|irrational|"
    r"bijections?|isomorphi\w+|eigen\w+|integers?|recurrence|probability|expected\s+value)\b",
)
_CLAUSE_SPLIT_RE = re.compile(r"[.?!,:;\n。？！，：；]+\s*")
_IMPERATIVE_RE = re.compile(  # matched at the start of a lower-cased clause
    r"(?:(?:please|now|then|also|and|so|ok|okay|just|finally)\s+)*(?:write|draft|"
    r"compose|summari[sz]e|explain|describe|compare|contrast|list|give|find|identify|propose|"
    r"design|plan|create|make|build|analy[sz]e|assess|evaluate|extract|turn|pull|translate|"
    r"rewrite|improve|review|check|fix|debug|convert|tell|suggest|recommend|outline|prove|show|"
    r"estimate|calculate|compute|merge|rank|prioriti[sz]e|organi[sz]e|help|highlight|note|"
    r"point|flag|map|produce|prepare|generate|synthesi[sz]e|group|lay|walk|break|implement|"
    r"refactor|edit|proofread|shorten|rephrase|simplify|critique|argue|derive|solve|determine|"
    r"decide|choose|pick|sort|classify|count|read|open|search|look|go|scan|run|use|keep|add|"
    r"remove|replace|update|migrate|split|define|answer|discuss|clarify|condense|rate|correct|"
    r"format|clean|polish|reply|respond|schedule|assign|set|put|do|work|fill|complete|continue|"
    r"expand|elaborate|justify|state|include|anticipate|adapt|quote|cite|support|draw|seat|"
    r"escribe|redacta|resume|explica|expl[ií]came|compara|traduce|dise[ñn]a|elabora|analiza|"
    r"dame|haz|crea|enumera|[ée]cris|r[ée]dige[zr]?|r[ée]sume[zr]?|explique[zr]?|comparez|"
    r"traduis|con[çc]ois|[ée]labore[zr]?|analyse[zr]?|donne[zr]?|fais|faites|cr[ée]e[zr]?|"
    r"propose[zr]?|d[ée]montre[zr]?|prouve[zr]?|schreib|fasse|erkl[äa]re|vergleiche|"
    r"[üu]bersetze|entwirf|entwickle|analysiere|gib|mach|erstelle|beweise|nenne)\b|[请帮把给写]"
)
_ASK_MARKER_RE = re.compile(
    r"[?？]|can\s+you\b|could\s+you\b|would\s+you\b|will\s+you\b|i\s+need\b|i\s+want\b|"
    r"i\s+would\s+like\b|help\s+me\b|please\b|here\s+is\b|here\s+are\b|below\s+is\b|"
    r"below\s+are\b|here'?s\b|attached\b|bitte\b|por\s+favor\b|peux-tu|pouvez-vous|请"
)
LANG_HINTS = (
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("es", re.compile(r"[¿¡ñ]|\b(?:qué|cómo|cuál|por\s+favor|explícame)\b", re.I)),
    ("fr", re.compile(r"\b(?:est-ce|voici|peux-tu|quelle|je|une|des|svp|élabore)\b", re.I)),
    ("de", re.compile(r"[äöüß]|\b(?:bitte|ich|und|der|die|das|ist|wie)\b", re.I)),
)


@dataclass
class Task:
    """The final user turn, taken apart."""

    ask: str  # the instruction: the whole turn, or the edges around a pasted text
    closing: list[str]  # the ask's last sentences, where a simple question shows itself
    payload_words: int  # words of pasted text and quotes outside the ask
    has_code: bool
    code_lines: int
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
    """The task: the last user turn's text (the last turn's when no user spoke)."""
    users = [text for role, text in turns if role == "user"]
    return users[-1] if users else (turns[-1][1] if turns else "")


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
    """Whether `text` asks for something (an imperative clause, a question, "can you" ...)."""
    low = text.lower()
    if found(_ASK_MARKER_RE, low):
        return True
    return any(_IMPERATIVE_RE.match(clause) for clause in _CLAUSE_SPLIT_RE.split(low))


def _edges(body: str) -> str:
    """The instruction part of a turn: all of a short one, the edges of a long one.

    A long turn is a pasted text with the request before and/or after it; the first paragraph
    counts if it is short and reads as an instruction, the last one if it reads as one or
    nothing else does (it is cut to its last sentences when long).
    """
    paras = [p.strip() for p in _PARA_RE.split(body) if p.strip()]
    words = n_words(body)
    if len(paras) <= 1:
        if words <= SINGLE_PARAGRAPH_ASK_WORDS:
            return body
        parts = sentences(body)
        return "\n".join(parts[:1] + parts[-2:])
    if words <= WHOLE_ASK_WORDS:
        return body
    head = paras[0]
    head = head if n_words(head) <= EDGE_FIRST_WORDS and _is_instruction(head) else ""
    tail = paras[-1]
    if n_words(tail) > EDGE_LAST_WORDS:
        tail = "\n".join(sentences(tail)[-2:])
    if head and not _is_instruction(tail):
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


def split_task(task: str) -> Task:
    """The final user turn taken apart; a long one by way of `bounded_sample`."""
    body, has_attachment = _strip_attachments(task)
    body, scale = bounded_sample(body)
    code_blocks = _FENCE_RE.findall(body)
    body = _FENCE_RE.sub("\n\n[code]\n\n", body)
    code_lines = sum(block.count("\n") for block in code_blocks)
    code_lines += len(_CODE_LINE_RE.findall(body))
    inline_code = _INLINE_CODE_RE.search(body) is not None
    body = _INLINE_CODE_RE.sub(" `code` ", body)
    words_before = n_words(body)
    body, quotes = _QUOTE_RE.subn(" 'quote' ", body)
    quoted_words = words_before - n_words(body) + quotes  # each quote became one word
    ask = _edges(body).strip()
    ask_words = n_words(ask)
    payload_words = round((n_words(body) - ask_words + quoted_words) * scale)
    return Task(
        ask=ask,
        closing=sentences(ask)[-2:],
        payload_words=max(0, payload_words),
        has_code=bool(code_blocks) or inline_code or code_lines >= 2,
        code_lines=round(code_lines * scale),
        has_attachment=has_attachment,
    )


def tier_of_context(tokens: float) -> int:
    low, high = CONTEXT_TIER_LIMITS
    return SIMPLE if tokens <= low else MEDIUM if tokens <= high else COMPLEX


def structure_score(task: Task, generative: bool, reasons: list[str]) -> float:
    """Score from the shape of the ask: listed requirements, constraints, maths, code size."""
    ask = task.ask
    low = ask.lower()
    items = len(_LIST_LINE_RE.findall(ask))
    for sentence in sentences(ask):
        if not _is_instruction(sentence):
            continue  # context ("we're on version 2, we use X, and ...") lists no requirements
        listed = _PAREN_RE.sub("", _NUMBER_RE.sub("0", sentence))
        commas = len(_ITEM_SEP_RE.findall(listed))
        items += commas + (commas >= 2 and _LAST_ITEM_RE.search(listed) is not None)
    score = 0.0
    if items >= 4:
        score += 2.0 if items >= 8 else 1.0
        reasons.append(f"{items} listed requirements")
    constraints = len(_CONSTRAINT_RE.findall(low)) if generative else 0
    if constraints >= 3:
        score += 2.0 if constraints >= 5 else 1.0
        reasons.append(f"{constraints} constraints")
    if n_words(ask) > 60:
        score += 0.5
    math = len(_MATH_RE.findall(low)) + len(_MATH_TERMS_RE.findall(low))
    if math >= 3:
        score += 1.5
        reasons.append("mathematical notation")
    if task.code_lines >= 25:
        score += 1.0
        reasons.append("long code")
    return score


def is_word_problem(task: Task) -> bool:
    """A setup with several quantities, then a question that needs them combined."""
    if task.has_code or len(task.closing) < 2:
        return False
    if not _QUANT_QUESTION_RE.search(task.closing[-1].lower()):
        return False
    return len(_QUANTITY_RE.findall(task.ask.lower())) >= 3
