"""The features that describe a task: each a named number, measured on the bounded instruction.

What is measured is the task, not its topic: how many inputs and how long, what is asked of
them (recall, transform, write, analyse, explain, compare, synthesise, prove, design, plan),
explicit constraints and deliverables, code, maths notation and the shape of the question.
Counts are capped or taken as log2(1 + n) and scaled to about 0-2, so that the same penalty
on every weight (`train.L2`) treats them alike. `FEATURES` names them, in the order of
`weights.py`, with what each one measures.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from harombe.routing.classifier import cues, shapes, wording
from harombe.routing.classifier.chat import (
    CHARS_PER_TOKEN,
    CJK_RE,
    Task,
    final_turn,
    n_words,
    role_and_text,
    sentences,
    split_task,
)

FAMILY_CAP = 1  # a family's words count once: the family is asked for or not
ASKING_BITS_CAP = 7  # an instruction beyond ~128 words is long, whatever its length
PAYLOAD_BITS_CAP = 12  # beyond ~4,000 pasted words the context rule decides
AFTERTHOUGHT_WORDS = 8  # a last sentence this short after a question does not replace it
TRAILING_REMARKS = 2  # ... nor up to this many sentences that ask nothing (no request either)
SHORT_QUESTION_WORDS = 15  # a closing question up to this long can be a lookup
HEADING_WORDS = 4  # "Research plan: does X help Y?": a tier-2 kind of task heading a question
SHORT_HARD_WORDS = 25  # a tier-2 kind of task asked this briefly is still tier 2
PASTED_WORDS = 60  # a payload from this size is a pasted text to work on

FEATURES: dict[str, str] = {
    # size and inputs
    "asking_words": "log2(1 + words of the instruction's sentences that ask) / 4",
    "context_words": "log2(1 + words of its other sentences: background, chatter) / 4",
    "history_turns": "log2(1 + earlier turns of the conversation) / 2",
    "many_documents": "several inputs named: 'ten papers', 'these reports', 'all modules'",
    # what is asked of them: the task families of `cues.FAMILIES`, each at most FAMILY_CAP
    **{f"asks_{name}": f"a word of the '{name}' family" for name in cues.ASK_FAMILIES},
    "task_breadth": "distinct task families asked for (write, analyse, compare, prove ...)",
    "hard_task": "a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)",
    "short_hard_task": f"a tier-2 family asked in at most {SHORT_HARD_WORDS} words",
    "work_on_payload": "log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked",
    "pasted_task": f"a piece of work asked of {PASTED_WORDS} or more pasted words",
    # constraints and deliverables
    "listed_items": "log2(1 + list lines and comma-separated items in the instruction) / 3",
    "builds_system": "a system to build: an engine, a compiler, an emulator, a database ...",
    "constraints": "constraint words (must, without, at most, budget ...), at most 6, / 3",
    "sequence": "multi-part markers (and then, also, finally ...), at most 3, / 2",
    "questions": "question marks (a closing question without one: 1), at most 3, / 2",
    # code and maths
    "code_block": "a fenced code block is present",
    "code_lines": "log2(1 + code lines) / 4",
    "math_notation": "maths symbols and variables, at most 4, / 2",
    "math_terms": "maths terms (integer, prime, such that ...), at most 4, / 2",
    "word_problem": "a setup with 3 or more quantities closed by a question, no code",
    # the shape of the question
    "wh_question": "the closing sentence opens with a question word (what, who, when ...)",
    "lookup_question": "a short wh- or yes/no closing question asking for no piece of work",
    "pasted_lookup": f"a lookup question over {PASTED_WORDS} or more words of payload",
    "non_english": "the instruction is not in English",
}
FEATURE_NAMES = tuple(FEATURES)
_ASIDE_RE = re.compile(r"\([^()]*\)")  # "(in general, not the one I saw)" lengthens no question
_CLAUSE_BREAK_RE = re.compile(r":(?=\s)|\s[-–—]\s")  # what follows introduces the question
_LANGUAGE_HINTS = (
    ("es", "¿¡ñ", frozenset("el los las una por para qué cómo cuál es de del y".split())),
    ("fr", "çœ", frozenset("le les une des du est pour je tu vous et quel quelle".split())),
    ("de", "äöüß", frozenset("der die das und ist ich ein eine bitte für wie nicht".split())),
    ("it", "", frozenset("il gli che è di per sono una non mi ho perché".split())),
    ("pt", "ãõ", frozenset("o os as um uma não é que de para meu minha você".split())),
    ("pl", "ąęłńśźż", frozenset("jest nie się na że czy jak mam".split())),
    ("tr", "ğış", frozenset("bir ve bu için ne nasıl mı mi".split())),
    ("nl", "", frozenset("het een van en niet wat ik je voor zijn".split())),
    ("sv", "å", frozenset("och att det som jag är inte för på".split())),
)
_SCRIPTS = (  # a script names its language (the commonest one that writes in it)
    (CJK_RE, "zh"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
    (re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"), "el"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0980-\u09ff]"), "bn"),
    (re.compile(r"[\u0b80-\u0bff]"), "ta"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
)
_QUESTION_MARKS_RE = re.compile(r"[?？]+")  # "why??" is one question
_DO_TASK_RE = re.compile(
    r"(?:please |pls )?(?:(?:do|conduct|carry out|perform|run) (?:me |us )?an?\b|"
    r"(?:search|go through|look through|read through|pull|gather|collect|compile) "
    r"(?:the|all|every|our|my|these|those)\b)"
)
_WH_CLAUSE_RE = re.compile(r"(?:^|[,;]\s*|\band\s+|\bor\s+)(?:what|why|how|who|when|where|which)\b")


@dataclass
class Measured:
    """A chat measured: its feature vector and what the context rule needs."""

    values: dict[str, float]
    est_tokens: float
    turns: int
    task: Task
    language: str
    words: frozenset[str]  # the instruction's words (`wording.words`)


def _log(n: float) -> float:
    return round(math.log2(1 + n), 3)


def _language(ask: str) -> str:
    """The instruction's language, from its script, letters and commonest short words."""
    for script, lang in _SCRIPTS:
        if script.search(ask):
            return lang
    low = ask.lower()
    words = set(low.split())
    for lang, letters, common in _LANGUAGE_HINTS:
        if any(c in low for c in letters) or len(words & common) >= 2:
            return lang
    return "en"


def _listed_items(ask: str) -> int:
    """List lines, and the separators (commas, semicolons, colons) of the instruction."""
    items = len(cues.LIST_LINE_RE.findall(ask))
    for sentence in sentences(ask):
        items += len(cues.ITEM_SEP_RE.findall(sentence))
    return items


def _questions(low: str, closing: str) -> int:
    """Question marks of the instruction; a closing question without one counts as one."""
    marks = len(_QUESTION_MARKS_RE.findall(low))
    return marks or int(shapes.UNMARKED_QUESTION_RE.match(closing.lstrip("¿¡ ")) is not None)


def _read_sentences(ask: str) -> list[tuple[str, Counter[str]]]:
    """The instruction's sentences, each with its cues (`cues.cue_counts`): one scan."""
    return [(sentence, cues.cue_counts(sentence.lower())) for sentence in sentences(ask)]


def _word_counts(read: list[tuple[str, Counter[str]]]) -> tuple[int, int]:
    """Words of the sentences that ask (a question, a task or constraint word) and of the
    rest."""
    asking = other = 0
    for sentence, found in read:
        asks = any(f in cues.PRODUCING or f == "constraint" for f in found)
        if asks or sentence.endswith(("?", "？", ":")):
            asking += n_words(sentence)
        else:
            other += n_words(sentence)
    return asking, other


def _requests(text: str) -> bool:
    """Whether text asks something of the reader: a request ("can you", "please"), or it
    opens with a task word ("Write ...", "Design the study: ...", "Briefly: design ...") or
    with a task done ("Do a meta-analysis ...", "Run a regression ...")."""
    low = text.lower().lstrip()
    return (
        shapes.REQUEST_RE.search(low) is not None
        or cues.opens_with_cue(low)
        or cues.opens_with_work(low)  # "Briefly: design ..."
        or _DO_TASK_RE.match(low) is not None  # "Do a meta-analysis of ..."
    )


def _lead(read: list[tuple[str, Counter[str]]], closing: str) -> str:
    """What introduces the closing question in its sentence: "Research plan: " in "Research
    plan: does X help Y?"."""
    for sentence, _ in read:
        if closing in sentence:
            return sentence[: sentence.rfind(closing)]
    return ""


def _around_lookup(
    read: list[tuple[str, Counter[str]]], closing: str, lead: str, lead_cues: Counter[str]
) -> Counter[str]:
    """The cues that still ask when the closing is a lookup question: those of questions and
    requests, and of what introduces the closing (`lead`) if it requests; narration is
    background."""
    counts: Counter[str] = Counter()
    if _requests(lead):
        counts += lead_cues
    for sentence, found in read:
        if closing not in sentence and (sentence.endswith(("?", "？", ":")) or _requests(sentence)):
            counts += found
    return counts


def _remark(sentence: str) -> bool:
    """Whether a sentence after a question asks nothing itself: no question mark, no work,
    no question word ("... anyway who wrote it" asks); if long, narration that requests
    nothing ("Just curious.", "I play guitar but can't read music")."""
    low = sentence.lower()
    asks = cues.asks_for_work(low, also=cues.SHAPING) or shapes.opens_question(shapes.WH_RE, low)
    if asks or sentence.endswith(("?", "？")):
        return False
    if n_words(sentence) <= AFTERTHOUGHT_WORDS:
        return True
    return shapes.NARRATION_RE.match(low) is not None and not _requests(sentence)


def _closing(ask: str) -> str:
    """The closing question: the last sentence, or the question before up to
    `TRAILING_REMARKS` remarks (`_remark`), from its last colon, dash or "¿" ("one thing: what
    is ...?", "I couldn't remember - how many ...?")."""
    parts = sentences(ask) or [""]
    last = parts[-1]
    for back in range(1, min(TRAILING_REMARKS, len(parts) - 1) + 1):
        if not _remark(parts[-back]):
            break
        if parts[-back - 1].endswith(("?", "？")):
            last = parts[-back - 1]
            break
    if (at := last.rfind("¿")) > 0:
        last = last[at:]
    after = _CLAUSE_BREAK_RE.split(last)[-1]
    return after.strip() if after != last and n_words(after) >= 3 else last


def _question_shape(closing: str, asked: set[str], brief: bool) -> dict[str, float]:
    """Whether the closing sentence is a wh-question, and a lookup: a short wh- or yes/no
    question that asks for no piece of work, or anything but a piece of work asked to be
    answered in a sentence or a word (`brief`), holding no maths notation."""
    low = closing.lower().lstrip("¿¡ ")
    wh_at = shapes.opens_question(shapes.WH_RE, low)
    embedded = shapes.EMBEDDED_WH_RE.search(low)
    wh = bool(
        wh_at
        or embedded
        or shapes.CJK_QUESTION_RE.search(low)
        or shapes.MAGNITUDE_RE.search(low)  # "compare 3/8 and 5/16, which is bigger?"
        or shapes.CALCULATION_RE.match(low)  # "17% of 2,340 = ?"
        or shapes.ALTERNATIVE_RE.match(low)  # "botanically speaking: fruit or vegetable?"
        or shapes.ELLIPTIC_RE.match(low)  # "Total dose in mg?"
    )
    yes_no_at = None if wh else shapes.opens_question(shapes.YES_NO_RE, low)
    yes_no = (yes_no_at is not None or shapes.TAG_QUESTION_RE.search(low) is not None) and (
        low.rstrip().endswith(("?", "？"))
        or bool(
            yes_no_at
            and not yes_no_at.group("lead")
            and shapes.YES_NO_SUBJECT_RE.match(low, yes_no_at.end())
        )
    )
    opened = wh_at or yes_no_at  # "If I sell it for £24, how much is the VAT?": from "how"
    lead = opened.group("lead") if opened else None
    clause = lead is not None and not shapes.WH_RE.match(lead)  # "what works, what's weak ..."
    question_text = low[opened.end("lead") :] if opened and clause else low
    short = n_words(_ASIDE_RE.sub("", question_text)) <= SHORT_QUESTION_WORDS
    question = (wh or yes_no) and short and not asked
    lookup = (question or (brief and asked <= cues.BRIEF_ASKS)) and not cues.MATH_RE.search(low)
    return {"wh_question": wh, "lookup_question": lookup}


def measure(messages: Any) -> Measured:
    """The feature vector of a chat (see `FEATURES`)."""
    turns = [role_and_text(m) for m in (messages or [])]
    est_tokens = sum(len(text) for _, text in turns) / CHARS_PER_TOKEN
    task = split_task(final_turn(turns))
    low = task.ask.lower()
    read = _read_sentences(task.ask)
    counts = sum((found for _, found in read), Counter())
    asking_words, context_words = _word_counts(read)
    closing = _closing(task.ask)
    closing_low = closing.lower()
    closing_cues = cues.cue_counts(closing_low)
    if not closing_cues["compare"]:  # "what are the trade-offs?" asks for a comparison
        # "what is a system design interview?", "what does UX stand for in UX design?": the
        # words name a thing (a meaning asked keeps its own cue)
        named = closing_cues if shapes.DEFINITION_RE.match(closing_low) else Counter()
        if closing_cues["meaning"]:  # the words after the meaning asked name its thing
            order = list(closing_cues)  # first occurrence first
            named = Counter({f: closing_cues[f] for f in order[order.index("meaning") + 1 :]})
        elif not named and shapes.opens_question(shapes.WH_RE, closing_low):
            # "how much storage do you get on the Free plan?": the plan is a thing named
            phrases = " ".join(m.group(0) for m in shapes.NAMED_PHRASE_RE.finditer(closing_low))
            named = cues.cue_counts(phrases) if phrases else Counter()
        counts -= named
        closing_cues -= named
    magnitude = shapes.MAGNITUDE_RE.search(closing_low) is not None
    if magnitude:  # "compare 5/8 and 0.6: which is bigger?" asks for one fact
        del closing_cues["compare"]
    closing_asks = {f for f in closing_cues if f in cues.WORK}
    lead = _lead(read, closing)
    lead_cues = cues.cue_counts(lead.lower())
    requested = _around_lookup(read, closing, lead, lead_cues) + closing_cues
    brief = (
        all(f in cues.BRIEF_ASKS for f in requested if f in cues.WORK)
        and not counts["depth"]
        and shapes.ANSWER_LENGTH_RE.search(low) is not None  # the costliest test last
    )  # "explain it in one sentence", not "review it, redraft it, explain each change in a
    # line" nor "briefly: ... show each step"
    shape = _question_shape(closing, closing_asks, brief)
    quantities = len(cues.NUMBER_RE.findall(low))
    is_question = closing.endswith(("?", "？")) or shape["wh_question"]
    no_code = not (task.code_blocks or task.code_lines)
    word_problem = quantities >= 3 and is_question and no_code and task.ask_words > 25
    heading = n_words(lead) <= HEADING_WORDS and cues.opens_with_cue(lead.lower().strip())
    heading = heading and any(f in cues.HARD for f in lead_cues)
    if _requests(lead) and len(_WH_CLAUSE_RE.findall(closing_low)) >= 2:
        heading = True  # "Critique it - what's missing, and how should I restructure it?"
    asked_before = any(  # "why does this deadlock? [code] and what's the standard way ...?"
        closing not in sentence
        and sentence.endswith(("?", "？"))
        and any(f in cues.WORK for f in found)
        for sentence, found in read
    )
    if word_problem or heading or asked_before:  # a problem over quantities, a task headed by
        shape["lookup_question"] = False  # its kind, or a question for work before this one
    if shape["lookup_question"]:  # background around one question asks for nothing
        counts = requested
    if magnitude:
        del counts["compare"]
    chatter = shape["lookup_question"] and not any(counts[n] for n in cues.WORK)
    if chatter:  # chatter around one question: only the question counts
        asking_words, context_words = n_words(closing), 0
    hard = any(counts[n] for n in cues.HARD)
    payload_bits = min(_log(task.payload_words), PAYLOAD_BITS_CAP) / 4
    work = any(counts[n] for n in cues.PRODUCING)
    values: dict[str, float] = {
        "asking_words": min(_log(asking_words), ASKING_BITS_CAP) / 4,
        "context_words": _log(context_words) / 4,
        "history_turns": _log(max(0, sum(role != "system" for role, _ in turns) - 1)) / 2,
        "many_documents": float(cues.MANY_RE.search(low) is not None),
        **{f"asks_{n}": float(min(counts[n], FAMILY_CAP)) for n in cues.ASK_FAMILIES},
        "task_breadth": float(len({cues.SAME_WORK.get(n, n) for n in cues.WORK if counts[n]})),
        "hard_task": float(hard),
        "short_hard_task": float(hard and asking_words + context_words <= SHORT_HARD_WORDS),
        "work_on_payload": payload_bits if work else 0.0,
        "pasted_task": float(work and task.payload_words >= PASTED_WORDS),
        "listed_items": _log(_listed_items(closing if chatter else task.ask)) / 3,
        "builds_system": float(cues.SYSTEM_RE.search(low) is not None),
        "constraints": min(counts["constraint"], 6) / 3,
        "sequence": min(counts["sequence"], 3) / 2,
        "questions": min(_questions(low, closing_low), 3) / 2,
        "code_block": float(task.code_blocks > 0),
        "code_lines": _log(task.code_lines) / 4,
        "math_notation": min(len(cues.MATH_RE.findall(low)), 4) / 2,
        "math_terms": min(len(cues.MATH_TERMS_RE.findall(low)), 4) / 2,
        "word_problem": float(word_problem),
        **{k: float(v) for k, v in shape.items()},
        "pasted_lookup": float(shape["lookup_question"] and task.payload_words >= PASTED_WORDS),
        "non_english": 0.0,
    }
    language = _language(task.ask)
    values["non_english"] = float(language != "en")
    return Measured(values, est_tokens, len(turns), task, language, wording.words(low))
