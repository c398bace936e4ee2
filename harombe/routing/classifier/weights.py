"""The classifier's weights: one per feature, and the two cut points of the score.

Written by `python -m harombe.routing.classifier.train --write` from the training sets
(`train.TRAINING_SETS`); do not edit by hand. A positive weight pushes towards a higher
tier. Features: `features.py`.
"""

WEIGHTS = {
    # log2(1 + words of the instruction's sentences that ask) / 4
    "asking_words": 1.668,
    # log2(1 + words of its other sentences: background, chatter) / 4
    "context_words": 0.363,
    # log2(1 + earlier turns of the conversation) / 2
    "history_turns": 0.174,
    # several inputs named: 'ten papers', 'these reports', 'all modules'
    "many_documents": 0.940,
    # a word of the 'design' family
    "asks_design": 0.346,
    # a word of the 'prove' family
    "asks_prove": 2.228,
    # a word of the 'synthesise' family
    "asks_synthesise": 0.022,
    # a word of the 'plan' family
    "asks_plan": 2.112,
    # a word of the 'scale' family
    "asks_scale": 3.012,
    # a word of the 'assumptions' family
    "asks_assumptions": 2.642,
    # a word of the 'compare' family
    "asks_compare": -0.201,
    # a word of the 'write' family
    "asks_write": -0.097,
    # a word of the 'code_deliverable' family
    "asks_code_deliverable": -0.340,
    # a word of the 'analyse' family
    "asks_analyse": -0.296,
    # a word of the 'debug' family
    "asks_debug": -0.210,
    # a word of the 'explain' family
    "asks_explain": -0.079,
    # a word of the 'depth' family
    "asks_depth": 0.633,
    # a word of the 'transform' family
    "asks_transform": -1.521,
    # a word of the 'enumerate' family
    "asks_enumerate": -1.158,
    # a word of the 'meaning' family
    "asks_meaning": -1.224,
    # a word of the 'greeting' family
    "asks_greeting": -1.670,
    # distinct task families asked for (write, analyse, compare, prove ...)
    "task_breadth": 0.417,
    # a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)
    "hard_task": 4.273,
    # a tier-2 family asked in at most 25 words
    "short_hard_task": 2.989,
    # log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked
    "work_on_payload": 0.171,
    # a piece of work asked of 60 or more pasted words
    "pasted_task": -0.777,
    # log2(1 + list lines and comma-separated items in the instruction) / 3
    "listed_items": 2.813,
    # a system to build: an engine, a compiler, an emulator, a database ...
    "builds_system": 5.745,
    # constraint words (must, without, at most, budget ...), at most 6, / 3
    "constraints": 0.261,
    # multi-part markers (and then, also, finally ...), at most 3, / 2
    "sequence": 0.223,
    # question marks (a closing question without one: 1), at most 3, / 2
    "questions": -3.234,
    # a fenced code block is present
    "code_block": 0.745,
    # log2(1 + code lines) / 4
    "code_lines": 3.480,
    # maths symbols and variables, at most 4, / 2
    "math_notation": 0.567,
    # maths terms (integer, prime, such that ...), at most 4, / 2
    "math_terms": 2.517,
    # a setup with 3 or more quantities closed by a question, no code
    "word_problem": -0.103,
    # the closing sentence opens with a question word (what, who, when ...)
    "wh_question": -0.222,
    # a short wh- or yes/no closing question asking for no piece of work
    "lookup_question": -2.112,
    # a lookup question over 60 or more words of payload
    "pasted_lookup": 1.059,
    # the instruction is not in English
    "non_english": 0.586,
}
MEDIUM_AT = 2.285  # task score from which a request is tier 1
COMPLEX_AT = 9.351  # ... and tier 2
