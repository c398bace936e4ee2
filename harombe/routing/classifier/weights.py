"""The classifier's weights: one per feature, and the two cut points of the score.

Written by `python -m harombe.routing.classifier.train --write` from the training sets
(`train.TRAINING_SETS`); do not edit by hand. A positive weight pushes towards a higher
tier. Features: `features.py`.
"""

WEIGHTS = {
    # log2(1 + words of the instruction's sentences that ask) / 4
    "asking_words": 1.775,
    # log2(1 + words of its other sentences: background, chatter) / 4
    "context_words": 0.437,
    # log2(1 + earlier turns of the conversation) / 2
    "history_turns": 0.079,
    # several inputs named: 'ten papers', 'these reports', 'all modules'
    "many_documents": 1.105,
    # a word of the 'design' family
    "asks_design": 0.537,
    # a word of the 'prove' family
    "asks_prove": 2.666,
    # a word of the 'synthesise' family
    "asks_synthesise": 0.059,
    # a word of the 'plan' family
    "asks_plan": 2.144,
    # a word of the 'scale' family
    "asks_scale": 3.228,
    # a word of the 'assumptions' family
    "asks_assumptions": 2.700,
    # a word of the 'compare' family
    "asks_compare": -0.185,
    # a word of the 'write' family
    "asks_write": -0.236,
    # a word of the 'code_deliverable' family
    "asks_code_deliverable": -0.374,
    # a word of the 'analyse' family
    "asks_analyse": -0.493,
    # a word of the 'debug' family
    "asks_debug": -0.455,
    # a word of the 'explain' family
    "asks_explain": -0.120,
    # a word of the 'depth' family
    "asks_depth": 0.776,
    # a word of the 'transform' family
    "asks_transform": -1.533,
    # a word of the 'enumerate' family
    "asks_enumerate": -0.933,
    # a word of the 'meaning' family
    "asks_meaning": -1.318,
    # a word of the 'greeting' family
    "asks_greeting": -1.685,
    # distinct task families asked for (write, analyse, compare, prove ...)
    "task_breadth": 0.539,
    # a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)
    "hard_task": 4.334,
    # a tier-2 family asked in at most 25 words
    "short_hard_task": 2.940,
    # log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked
    "work_on_payload": 0.203,
    # a piece of work asked of 60 or more pasted words
    "pasted_task": -1.020,
    # log2(1 + list lines and comma-separated items in the instruction) / 3
    "listed_items": 2.790,
    # a system to build: an engine, a compiler, an emulator, a database ...
    "builds_system": 5.803,
    # constraint words (must, without, at most, budget ...), at most 6, / 3
    "constraints": 0.481,
    # multi-part markers (and then, also, finally ...), at most 3, / 2
    "sequence": 0.318,
    # question marks (a closing question without one: 1), at most 3, / 2
    "questions": -3.298,
    # a fenced code block is present
    "code_block": 0.737,
    # log2(1 + code lines) / 4
    "code_lines": 3.556,
    # maths symbols and variables, at most 4, / 2
    "math_notation": 0.384,
    # maths terms (integer, prime, such that ...), at most 4, / 2
    "math_terms": 2.770,
    # a setup with 3 or more quantities closed by a question, no code
    "word_problem": 0.078,
    # the closing sentence opens with a question word (what, who, when ...)
    "wh_question": -0.271,
    # a short wh- or yes/no closing question asking for no piece of work
    "lookup_question": -2.197,
    # a lookup question over 60 or more words of payload
    "pasted_lookup": 1.118,
    # the instruction is not in English
    "non_english": 0.853,
}
MEDIUM_AT = 1.982  # task score from which a request is tier 1
COMPLEX_AT = 9.389  # ... and tier 2
