"""The classifier's weights: one per feature, and the two cut points of the score.

Written by `python -m harombe.routing.classifier.train --write` from the training sets
(`train.TRAINING_SETS`); do not edit by hand. A positive weight pushes towards a higher
tier. Features: `features.py`.
"""

WEIGHTS = {
    # log2(1 + words of the instruction's sentences that ask) / 4
    "asking_words": 1.662,
    # log2(1 + words of its other sentences: background, chatter) / 4
    "context_words": 0.367,
    # log2(1 + earlier turns of the conversation) / 2
    "history_turns": 0.166,
    # several inputs named: 'ten papers', 'these reports', 'all modules'
    "many_documents": 1.198,
    # a word of the 'design' family
    "asks_design": 0.571,
    # a word of the 'prove' family
    "asks_prove": 2.877,
    # a word of the 'synthesise' family
    "asks_synthesise": 0.618,
    # a word of the 'plan' family
    "asks_plan": 1.855,
    # a word of the 'scale' family
    "asks_scale": 3.325,
    # a word of the 'assumptions' family
    "asks_assumptions": 3.226,
    # a word of the 'compare' family
    "asks_compare": -0.398,
    # a word of the 'write' family
    "asks_write": -0.319,
    # a word of the 'code_deliverable' family
    "asks_code_deliverable": -0.352,
    # a word of the 'analyse' family
    "asks_analyse": -0.705,
    # a word of the 'debug' family
    "asks_debug": -0.666,
    # a word of the 'explain' family
    "asks_explain": -0.406,
    # a word of the 'depth' family
    "asks_depth": 0.791,
    # a word of the 'transform' family
    "asks_transform": -1.681,
    # a word of the 'enumerate' family
    "asks_enumerate": -0.890,
    # a word of the 'meaning' family
    "asks_meaning": -1.473,
    # a word of the 'greeting' family
    "asks_greeting": -1.857,
    # distinct task families asked for (write, analyse, compare, prove ...)
    "task_breadth": 0.733,
    # a word of a family the rubric puts in tier 2 (prove, design, synthesise ...)
    "hard_task": 3.888,
    # a tier-2 family asked in at most 25 words
    "short_hard_task": 3.444,
    # log2(1 + pasted words) / 4 (at most 3) when a piece of work is asked
    "work_on_payload": 0.125,
    # a piece of work asked of 60 or more pasted words
    "pasted_task": -1.203,
    # log2(1 + list lines and comma-separated items in the instruction) / 3
    "listed_items": 2.782,
    # a system to build: an engine, a compiler, an emulator, a database ...
    "builds_system": 5.784,
    # constraint words (must, without, at most, budget ...), at most 6, / 3
    "constraints": 0.679,
    # multi-part markers (and then, also, finally ...), at most 3, / 2
    "sequence": 0.406,
    # question marks (a closing question without one: 1), at most 3, / 2
    "questions": -3.229,
    # a fenced code block is present
    "code_block": 0.679,
    # log2(1 + code lines) / 4
    "code_lines": 3.483,
    # maths symbols and variables, at most 4, / 2
    "math_notation": 0.515,
    # maths terms (integer, prime, such that ...), at most 4, / 2
    "math_terms": 3.007,
    # a setup with 3 or more quantities closed by a question, no code
    "word_problem": -0.091,
    # the closing sentence opens with a question word (what, who, when ...)
    "wh_question": -0.348,
    # a short wh- or yes/no closing question asking for no piece of work
    "lookup_question": -2.313,
    # a lookup question over 60 or more words of payload
    "pasted_lookup": 0.861,
    # the instruction is not in English
    "non_english": 1.019,
}
MEDIUM_AT = 1.857  # task score from which a request is tier 1
COMPLEX_AT = 9.369  # ... and tier 2
