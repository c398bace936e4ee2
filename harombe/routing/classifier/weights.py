"""The classifier's weights: one per feature, and the two cut points of the score.

Written by `python -m harombe.routing.classifier.train --write` from the training sets
(`train.TRAINING_SETS`); do not edit by hand. A positive weight pushes towards a higher
tier. Features: `features.py`.
"""

WEIGHTS = {
    # log2(1 + words of the instruction's sentences that ask) / 4
    "asking_words": 1.694,
    # log2(1 + words of its other sentences: background, chatter) / 4
    "context_words": 0.376,
    # log2(1 + earlier turns of the conversation) / 2
    "history_turns": 0.184,
    # several inputs named: 'ten papers', 'these reports', 'all modules'
    "many_documents": 0.968,
    # a word of the 'design' family
    "asks_design": 0.311,
    # a word of the 'prove' family
    "asks_prove": 2.195,
    # a word of the 'synthesise' family
    "asks_synthesise": -0.027,
    # a word of the 'plan' family
    "asks_plan": 2.145,
    # a word of the 'scale' family
    "asks_scale": 3.006,
    # a word of the 'assumptions' family
    "asks_assumptions": 2.667,
    # a word of the 'compare' family
    "asks_compare": -0.228,
    # a word of the 'write' family
    "asks_write": -0.130,
    # a word of the 'code_deliverable' family
    "asks_code_deliverable": -0.363,
    # a word of the 'analyse' family
    "asks_analyse": -0.274,
    # a word of the 'debug' family
    "asks_debug": -0.204,
    # a word of the 'explain' family
    "asks_explain": -0.041,
    # a word of the 'depth' family
    "asks_depth": 0.595,
    # a word of the 'transform' family
    "asks_transform": -1.503,
    # a word of the 'enumerate' family
    "asks_enumerate": -1.150,
    # a word of the 'meaning' family
    "asks_meaning": -1.231,
    # a word of the 'greeting' family
    "asks_greeting": -1.669,
    # distinct task families asked for (write, analyse, compare, prove ...)
    "task_breadth": 0.414,
    # a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)
    "hard_task": 4.317,
    # a tier-2 family asked in at most 25 words
    "short_hard_task": 2.986,
    # log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked
    "work_on_payload": 0.178,
    # a piece of work asked of 60 or more pasted words
    "pasted_task": -0.797,
    # log2(1 + list lines and comma-separated items in the instruction) / 3
    "listed_items": 2.788,
    # a system to build: an engine, a compiler, an emulator, a database ...
    "builds_system": 5.776,
    # constraint words (must, without, at most, budget ...), at most 6, / 3
    "constraints": 0.305,
    # multi-part markers (and then, also, finally ...), at most 3, / 2
    "sequence": 0.234,
    # question marks (a closing question without one: 1), at most 3, / 2
    "questions": -3.235,
    # a fenced code block is present
    "code_block": 0.778,
    # log2(1 + code lines) / 4
    "code_lines": 3.446,
    # maths symbols and variables, at most 4, / 2
    "math_notation": 0.480,
    # maths terms (integer, prime, such that ...), at most 4, / 2
    "math_terms": 2.540,
    # a setup with 3 or more quantities closed by a question, no code
    "word_problem": -0.092,
    # the closing sentence opens with a question word (what, who, when ...)
    "wh_question": -0.212,
    # a short wh- or yes/no closing question asking for no piece of work
    "lookup_question": -2.135,
    # a lookup question over 60 or more words of payload
    "pasted_lookup": 1.078,
    # the instruction is not in English
    "non_english": 0.622,
}
MEDIUM_AT = 2.318  # task score from which a request is tier 1
COMPLEX_AT = 9.385  # ... and tier 2
