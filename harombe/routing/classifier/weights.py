"""The classifier's weights: one per feature, and the two cut points of the score.

Written by `python -m harombe.routing.classifier.train --write` from dev.jsonl; do not
edit by hand. A positive weight pushes towards a higher tier. Features: `features.py`.
"""

WEIGHTS = {
    # log2(1 + words of the instruction's sentences that ask) / 4
    "asking_words": 2.275,
    # log2(1 + words of its other sentences: background, chatter) / 4
    "context_words": 1.127,
    # log2(1 + earlier turns of the conversation) / 2
    "history_turns": -0.128,
    # several inputs named: 'ten papers', 'these reports', 'all modules'
    "many_documents": 0.818,
    # a word of the 'design' family
    "asks_design": 1.068,
    # a word of the 'prove' family
    "asks_prove": 1.185,
    # a word of the 'synthesise' family
    "asks_synthesise": 0.511,
    # a word of the 'plan' family
    "asks_plan": 0.604,
    # a word of the 'scale' family
    "asks_scale": 2.287,
    # a word of the 'assumptions' family
    "asks_assumptions": 1.079,
    # a word of the 'compare' family
    "asks_compare": 0.320,
    # a word of the 'write' family
    "asks_write": -0.802,
    # a word of the 'code_deliverable' family
    "asks_code_deliverable": -0.477,
    # a word of the 'analyse' family
    "asks_analyse": -0.375,
    # a word of the 'debug' family
    "asks_debug": 0.084,
    # a word of the 'explain' family
    "asks_explain": -0.735,
    # a word of the 'depth' family
    "asks_depth": 0.701,
    # a word of the 'transform' family
    "asks_transform": -1.021,
    # a word of the 'enumerate' family
    "asks_enumerate": -0.134,
    # a word of the 'meaning' family
    "asks_meaning": -0.891,
    # a word of the 'greeting' family
    "asks_greeting": -1.034,
    # distinct task families asked for (write, analyse, compare, prove ...)
    "task_breadth": 1.406,
    # a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)
    "hard_task": 2.633,
    # ... in an instruction of at most 20 words
    "short_hard_task": 1.478,
    # log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked
    "work_on_payload": -1.124,
    # a piece of work asked of 60 or more pasted words
    "pasted_task": -0.205,
    # log2(1 + list lines and comma-separated items in the instruction) / 3
    "listed_items": 1.624,
    # constraint words (must, without, at most, budget ...), at most 6, / 3
    "constraints": 0.849,
    # multi-part markers (and then, also, finally ...), at most 3, / 2
    "sequence": 1.123,
    # question marks in the instruction, at most 3, / 2
    "questions": -0.318,
    # a fenced code block is present
    "code_block": 0.128,
    # log2(1 + code lines) / 4
    "code_lines": 0.119,
    # maths symbols and variables, at most 4, / 2
    "math_notation": 1.262,
    # maths terms (integer, prime, such that ...), at most 4, / 2
    "math_terms": 1.320,
    # a setup with 3 or more quantities closed by a question, no code
    "word_problem": 0.880,
    # the closing sentence opens with a question word (what, who, when ...)
    "wh_question": -0.367,
    # a short wh- or yes/no closing question asking for no piece of work
    "lookup_question": -2.248,
    # a lookup question over 60 or more words of payload
    "pasted_lookup": -0.529,
    # the instruction is not in English
    "non_english": 0.021,
}
MEDIUM_AT = 1.925  # task score from which a request is tier 1
COMPLEX_AT = 6.718  # ... and tier 2
