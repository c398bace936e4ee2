"""The classifier's weights: one per feature, and the two cut points of the score.

Written by `python -m harombe.routing.classifier.train --write` from dev.jsonl; do not
edit by hand. A positive weight pushes towards a higher tier. Features: `features.py`.
"""

WEIGHTS = {
    # log2(1 + words of the instruction's sentences that ask) / 4
    "asking_words": 2.483,
    # log2(1 + words of its other sentences: background, chatter) / 4
    "context_words": 1.055,
    # log2(1 + earlier turns of the conversation) / 2
    "history_turns": -0.143,
    # several inputs named: 'ten papers', 'these reports', 'all modules'
    "many_documents": 0.289,
    # a word of the 'design' family
    "asks_design": 1.121,
    # a word of the 'prove' family
    "asks_prove": 1.175,
    # a word of the 'synthesise' family
    "asks_synthesise": 0.596,
    # a word of the 'plan' family
    "asks_plan": 0.681,
    # a word of the 'scale' family
    "asks_scale": 2.017,
    # a word of the 'assumptions' family
    "asks_assumptions": 1.213,
    # a word of the 'compare' family
    "asks_compare": 0.345,
    # a word of the 'write' family
    "asks_write": -0.707,
    # a word of the 'code_deliverable' family
    "asks_code_deliverable": -0.483,
    # a word of the 'analyse' family
    "asks_analyse": -0.370,
    # a word of the 'debug' family
    "asks_debug": -0.196,
    # a word of the 'explain' family
    "asks_explain": -0.739,
    # a word of the 'depth' family
    "asks_depth": 0.765,
    # a word of the 'transform' family
    "asks_transform": -0.979,
    # a word of the 'enumerate' family
    "asks_enumerate": -0.121,
    # a word of the 'meaning' family
    "asks_meaning": -0.852,
    # a word of the 'greeting' family
    "asks_greeting": -0.988,
    # distinct task families asked for (write, analyse, compare, prove ...)
    "task_breadth": 1.462,
    # a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)
    "hard_task": 2.745,
    # a tier-2 family asked in at most 20 words
    "short_hard_task": 1.434,
    # log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked
    "work_on_payload": -1.085,
    # a piece of work asked of 60 or more pasted words
    "pasted_task": -0.189,
    # log2(1 + list lines and comma-separated items in the instruction) / 3
    "listed_items": 1.334,
    # constraint words (must, without, at most, budget ...), at most 6, / 3
    "constraints": 0.987,
    # multi-part markers (and then, also, finally ...), at most 3, / 2
    "sequence": 0.959,
    # question marks in the instruction, at most 3, / 2
    "questions": -0.322,
    # a fenced code block is present
    "code_block": 0.284,
    # log2(1 + code lines) / 4
    "code_lines": 0.246,
    # maths symbols and variables, at most 4, / 2
    "math_notation": 1.116,
    # maths terms (integer, prime, such that ...), at most 4, / 2
    "math_terms": 1.493,
    # a setup with 3 or more quantities closed by a question, no code
    "word_problem": 0.270,
    # the closing sentence opens with a question word (what, who, when ...)
    "wh_question": -0.292,
    # a short wh- or yes/no closing question asking for no piece of work
    "lookup_question": -2.433,
    # a lookup question over 60 or more words of payload
    "pasted_lookup": -0.485,
    # the instruction is not in English
    "non_english": 0.057,
}
MEDIUM_AT = 2.091  # task score from which a request is tier 1
COMPLEX_AT = 7.012  # ... and tier 2
