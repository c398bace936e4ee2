"""Query-complexity classifier: the filler rule, the fitted weights and their scores on every
set, the features family by family, the bounded cost, and inputs of every shape."""

import hashlib
import json
import re
from pathlib import Path

import pytest

from harombe.inference.types import Message
from harombe.routing import classify, explain
from harombe.routing.classifier import Classification, chat, cues, scan, train
from harombe.routing.classifier.features import FEATURE_NAMES, measure
from harombe.routing.classifier.model import MODEL
from harombe.routing.classifier.wording import WORD_WEIGHTS_FILE, words
from harombe.routing.crossval import cross_validate, fold_of, leave_one_set_out, predict
from harombe.routing.devset import (
    evaluate,
    expand_messages,
    format_report,
    load_records,
    make_filler,
)

DATA = Path(__file__).parent / "data" / "routing"


def user(text: object) -> list[dict]:
    return [{"role": "user", "content": text}]


# --- the filler rule (README section 5) --------------------------------------------------------


def test_filler_short_vector() -> None:
    assert make_filler("d-0001", 14) == (
        "Sed qui est pro non aute velit lectus purus sub purus purus. Dolor at."
    )


@pytest.mark.parametrize(
    ("record_id", "n_words", "n_chars", "sha_prefix"),
    [
        ("d-0051", 500, 2567, "438051f370cce287"),
        ("d-0119", 3000, 15502, "2445464fc6ab975a"),
        ("d-0001", 14000, 72346, "0cd11709465e03a6"),
    ],
)
def test_filler_full_vectors(record_id: str, n_words: int, n_chars: int, sha_prefix: str) -> None:
    filler = make_filler(record_id, n_words)
    assert len(filler) == n_chars
    assert hashlib.sha256(filler.encode("utf-8")).hexdigest().startswith(sha_prefix)


def test_filler_paragraphs_and_no_filler() -> None:
    text = make_filler("x", 250)
    assert text.count("\n\n") == 2 and text == text.strip()
    assert make_filler("x", 0) == ""


def test_expand_attaches_to_last_user_turn_only() -> None:
    record = {
        "id": "d-0001",
        "filler_words": 14,
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "question?"},
        ],
    }
    expanded = expand_messages(record)
    assert expanded[0]["content"] == "first" and expanded[1]["content"] == "ok"
    assert expanded[2]["content"] == (
        "<attached_document>\n" + make_filler("d-0001", 14) + "\n</attached_document>\n\nquestion?"
    )
    assert record["messages"][2]["content"] == "question?"  # the record itself is untouched


def test_load_records_rejects_bad_lines(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"id": "a", "messages": [], "tier": 0}\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        load_records(bad_json)
    bad_tier = tmp_path / "tier.jsonl"
    bad_tier.write_text(json.dumps({"id": "a", "messages": [], "tier": 3}) + "\n")
    with pytest.raises(ValueError, match="tier"):
        load_records(bad_tier)


# --- the fitted model and its scores ------------------------------------------------------------


def test_train_write_reproduces_the_weight_files() -> None:
    """`python -m harombe.routing.classifier.train --write` regenerates weights.py and
    word_weights.json exactly."""
    fitted = train.fit(train.examples(train.training_records()))
    assert train.render(fitted) == train.WEIGHTS_FILE.read_text(encoding="utf-8")
    assert train.render_words(fitted) == WORD_WEIGHTS_FILE.read_text(encoding="utf-8")
    assert set(fitted.weights) == set(FEATURE_NAMES)
    assert fitted.word_weights == MODEL.word_weights and 300 <= len(fitted.word_weights) <= 3000


def test_a_word_is_weighed_only_when_many_sets_use_it() -> None:
    """A word of `WORD_MIN_SETS` sets' instructions gets a weight; one fewer set, none."""
    many = [
        train.Example((), tier, 0, frozenset({"every", f"topic{i}"}), f"s{i}")
        for i in range(train.WORD_MIN_SETS)
        for tier in (0, 2)
    ]
    assert train.vocabulary(many) == ["every"]
    assert train.vocabulary(many[2:]) == []


def test_fit_learns_a_word_that_marks_a_tier() -> None:
    """Records alike but for one word, which only the complex ones use: the word is weighed
    up, and the ones without it stay below it."""
    sources = [f"s{i}" for i in range(train.WORD_MIN_SETS)]
    plain = [train.Example(((0, 1.0),), 0, 0, frozenset({"the"}), s) for s in sources]
    marked = [train.Example(((0, 1.0),), 2, 0, frozenset({"the", "across"}), s) for s in sources]
    model = train.fit((plain + marked) * 3)
    assert model.word_weights["across"] > 1.0 > abs(model.word_weights.get("the", 0.0))
    assert [predict(model, e) for e in (plain[0], marked[0])] == [0, 2]


def test_fit_learns_an_ordinal_feature() -> None:
    """Tiers that follow one feature: the fitted score orders them and the cuts split them."""
    examples = [
        train.Example(((0, value),), gold, 0)
        for gold, values in ((0, (0.0, 0.2, 0.4)), (1, (1.4, 1.6, 1.8)), (2, (2.8, 3.0, 3.2)))
        for value in values
    ]
    model = train.fit(examples * 4)
    name = FEATURE_NAMES[0]
    assert model.weights[name] > 0
    tiers = [model.task_tier(model.weights[name] * dict(e.features)[0]) for e in examples]
    assert tiers == [e.gold for e in examples]


def test_a_simple_record_sent_past_tier_0_costs_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simple and medium records that overlap on one feature: the dearer a simple record sent
    up, the more of them the fitted cut keeps on tier 0, and the more medium ones it takes."""
    examples = [
        train.Example(((0, value / 10),), gold, 0)
        for gold, values in ((0, range(0, 12)), (1, range(6, 18)))
        for value in values
    ]

    def kept(cost: float) -> tuple[int, int]:
        monkeypatch.setattr(train, "SIMPLE_UP_COST", cost)
        tiers = [predict(train.fit(examples), e) for e in examples]
        simple = sum(t == 0 for t, e in zip(tiers, examples, strict=True) if e.gold == 0)
        medium = sum(t == 1 for t, e in zip(tiers, examples, strict=True) if e.gold == 1)
        return simple, medium

    (simple_even, medium_even), (simple_dear, medium_dear) = kept(1.0), kept(3.0)
    assert simple_dear > simple_even and medium_dear < medium_even


def test_a_record_labelled_by_a_floor_only_bounds_the_score_from_above() -> None:
    long_trivial = train.Example(((0, 1.0),), 2, 2)  # tier 2 because of its size alone
    assert train._terms(long_trivial) == []
    medium_by_size = train.Example((), 1, 1)
    assert train._terms(medium_by_size) == [(1, -1.0)]  # says only "not tier 2"
    assert train._terms(train.Example((), 1, 0)) == [(0, 1.0), (1, -1.0)]


def assert_scores(
    name: str, exact: float, simple_kept: float, n: int, complex_to_0: float = 0.0
) -> None:
    """The README's metrics on one set, at least as achieved (docs/routing.md)."""
    metrics = evaluate(load_records(DATA / name), classify)
    assert metrics.n == n and metrics.invalid == 0
    assert metrics.accuracy >= exact, format_report(metrics, name)
    assert metrics.simple_recall is not None and metrics.simple_recall >= simple_kept
    assert metrics.under_routing_2_to_0 is not None
    assert metrics.under_routing_2_to_0 <= complex_to_0, format_report(metrics, name)


@pytest.mark.parametrize(
    ("name", "exact", "simple_kept", "n", "complex_to_0"),
    [
        ("dev", 0.956, 0.999, 300, 0.00),
        ("sanity", 0.989, 0.999, 92, 0.00),
        ("sanity2", 0.918, 0.999, 74, 0.00),
        ("sanity3", 0.938, 0.999, 65, 0.00),
        ("heldout", 0.941, 0.999, 153, 0.00),
        ("third", 0.975, 0.999, 120, 0.00),
        ("fourth", 0.944, 0.999, 90, 0.00),
        ("fifth", 0.950, 0.950, 60, 0.00),
        ("sixth", 0.972, 0.999, 180, 0.00),
        ("seventh", 0.966, 0.999, 150, 0.00),
        ("eighth", 0.960, 0.940, 150, 0.00),
        ("ninth", 0.973, 0.999, 150, 0.00),
        ("tenth", 0.975, 0.999, 120, 0.00),
        ("eleventh", 0.960, 0.980, 150, 0.00),
        ("twelfth", 0.986, 0.999, 150, 0.00),
        ("thirteenth", 0.960, 0.960, 150, 0.02),
        ("fourteenth", 0.973, 0.999, 150, 0.00),
        ("fifteenth", 0.960, 0.960, 150, 0.00),
        ("sixteenth", 0.960, 0.980, 150, 0.00),
        ("seventeenth", 0.983, 0.975, 120, 0.00),
        ("eighteenth", 0.958, 0.999, 120, 0.00),
        ("nineteenth", 0.980, 0.960, 150, 0.00),
        ("twentieth", 0.973, 0.980, 150, 0.00),
        ("twentyfirst", 0.980, 0.999, 150, 0.00),
        ("twentysecond", 0.980, 0.999, 150, 0.00),
        ("twentythird", 0.940, 0.960, 150, 0.00),
        ("twentyfourth", 0.973, 0.960, 150, 0.00),
        ("twentyfifth", 0.986, 0.999, 150, 0.00),
        ("twentysixth", 0.953, 0.980, 150, 0.00),
        ("twentyseventh", 0.986, 0.999, 150, 0.00),
        ("twentyeighth", 0.940, 0.980, 150, 0.00),
        ("twentyninth", 0.980, 0.999, 150, 0.00),
        ("thirtieth", 0.973, 0.999, 150, 0.00),
        ("thirtyfirst", 0.980, 0.999, 150, 0.00),
        ("thirtysecond", 0.966, 0.980, 150, 0.00),
        ("thirtythird", 0.973, 0.999, 150, 0.00),
        ("thirtyfourth", 0.980, 0.999, 150, 0.00),
        ("thirtyfifth", 0.940, 0.960, 150, 0.00),
        ("thirtysixth", 0.966, 0.980, 150, 0.00),
        ("thirtyseventh", 0.946, 0.999, 150, 0.00),
        ("thirtyeighth", 0.953, 0.980, 150, 0.00),
        ("thirtyninth", 0.926, 0.980, 150, 0.00),
        ("fortieth", 0.906, 0.940, 150, 0.00),
        ("fortyfirst", 0.980, 0.999, 150, 0.00),
        ("fortysecond", 0.960, 0.940, 150, 0.00),
        ("fortythird", 0.933, 0.980, 150, 0.00),
        ("fortyfourth", 0.953, 0.980, 150, 0.00),
        ("fortyfifth", 0.900, 0.940, 150, 0.00),
        ("fortysixth", 0.926, 0.960, 150, 0.00),
        ("fortyseventh", 0.940, 0.920, 150, 0.02),
        ("fortyeighth", 0.960, 0.999, 150, 0.00),
        ("fortyninth", 0.960, 0.940, 150, 0.00),
        ("fiftieth", 0.940, 0.960, 150, 0.00),
        ("fiftyfirst", 0.973, 0.999, 150, 0.00),
        ("fiftysecond", 0.953, 0.999, 150, 0.00),
        ("fiftythird", 0.953, 0.920, 150, 0.00),
        ("fiftyfourth", 0.933, 0.980, 150, 0.00),
        ("fiftyfifth", 0.946, 0.980, 150, 0.00),
        ("fiftysixth", 0.920, 0.960, 150, 0.00),
        ("fiftyseventh", 0.933, 0.880, 150, 0.00),
        ("fiftyeighth", 0.960, 0.999, 150, 0.00),
        ("fiftyninth", 0.913, 0.940, 150, 0.00),
        ("sixtieth", 0.933, 0.999, 150, 0.00),
        ("sixtyfirst", 0.973, 0.999, 150, 0.00),
        ("sixtysecond", 0.980, 0.999, 150, 0.00),
        ("sixtythird", 0.966, 0.999, 150, 0.00),
        ("sixtyfourth", 0.953, 0.980, 150, 0.00),
        ("sixtyfifth", 0.940, 0.960, 150, 0.00),
        ("sixtysixth", 0.980, 0.980, 150, 0.00),
        ("sixtyseventh", 0.946, 0.960, 150, 0.00),
        ("sixtyeighth", 0.920, 0.960, 150, 0.00),
        ("sixtyninth", 0.926, 0.960, 150, 0.00),
        ("seventieth", 0.960, 0.960, 150, 0.00),
        ("seventyfirst", 0.913, 0.940, 150, 0.00),
        ("seventysecond", 0.920, 0.960, 150, 0.00),
        ("seventythird", 0.980, 0.999, 150, 0.00),
        ("seventyfourth", 0.973, 0.980, 150, 0.00),
        ("seventyfifth", 0.973, 0.960, 150, 0.00),
        ("seventysixth", 0.946, 0.980, 150, 0.00),
        ("seventyseventh", 0.953, 0.980, 150, 0.00),
        ("seventyeighth", 0.960, 0.999, 150, 0.00),
        ("seventyninth", 0.933, 0.980, 150, 0.00),
        ("eightieth", 0.960, 0.999, 150, 0.00),
        ("eightyfirst", 0.960, 0.980, 150, 0.00),
        ("eightysecond", 0.926, 0.920, 150, 0.02),
        ("eightythird", 0.966, 0.960, 150, 0.00),
        ("eightyfourth", 0.960, 0.960, 150, 0.00),
        ("eightyfifth", 0.913, 0.940, 150, 0.00),
        ("eightysixth", 0.940, 0.999, 150, 0.00),
        ("eightyseventh", 0.960, 0.999, 150, 0.00),
        ("eightyeighth", 0.920, 0.980, 150, 0.00),
        ("eightyninth", 0.940, 0.980, 150, 0.00),
        ("ninetieth", 0.966, 0.999, 150, 0.00),
        ("ninetyfirst", 0.906, 0.960, 150, 0.00),
        ("ninetysecond", 0.920, 0.960, 150, 0.00),
        ("ninetythird", 0.940, 0.999, 150, 0.00),
        ("ninetyfourth", 0.940, 0.980, 150, 0.00),
        ("ninetyfifth", 0.966, 0.980, 150, 0.00),
        ("ninetysixth", 0.933, 0.980, 150, 0.00),
        ("ninetyseventh", 0.966, 0.999, 150, 0.02),
        ("ninetyeighth", 0.973, 0.980, 150, 0.00),
        ("ninetyninth", 0.933, 0.960, 150, 0.00),
        ("hundredth", 0.953, 0.960, 150, 0.00),
        ("hundredfirst", 0.940, 0.920, 150, 0.00),
        ("hundredsecond", 0.920, 0.960, 150, 0.00),
        ("hundredthird", 0.980, 0.999, 150, 0.00),
        ("hundredfourth", 0.966, 0.999, 150, 0.00),
        ("hundredfifth", 0.926, 0.920, 150, 0.00),
        ("hundredsixth", 0.920, 0.980, 150, 0.00),
        ("hundredseventh", 0.946, 0.940, 150, 0.02),
        ("hundredeighth", 0.953, 0.980, 150, 0.00),
        ("hundredninth", 0.960, 0.980, 150, 0.00),
        ("hundredtenth", 0.973, 0.999, 150, 0.00),
        ("hundredeleventh", 0.933, 0.920, 150, 0.00),
        ("hundredtwelfth", 0.953, 0.999, 150, 0.00),
        ("hundredthirteenth", 0.940, 0.960, 150, 0.00),
        ("hundredfourteenth", 0.946, 0.980, 150, 0.00),
    ],
)
def test_training_sets_as_fitted(
    name: str, exact: float, simple_kept: float, n: int, complex_to_0: float
) -> None:
    """The sets the weights are fitted on (docs/routing.md says when each was first scored)."""
    assert name in train.TRAINING_SETS
    assert_scores(f"{name}.jsonl", exact, simple_kept, n, complex_to_0)


def test_folds_partition_the_records() -> None:
    fold = fold_of(23, 5, seed=16)
    assert sorted(set(fold)) == [0, 1, 2, 3, 4]
    assert sorted(fold.count(k) for k in range(5)) == [4, 4, 5, 5, 5]
    assert fold == fold_of(23, 5, seed=16)


@pytest.mark.parametrize(
    ("name", "exact", "simple_kept", "n", "complex_to_0"),
    [
        ("hundredfifteenth", 0.893, 0.960, 150, 0.00),
        ("hundredsixteenth", 0.893, 0.900, 150, 0.02),
    ],
)
def test_evaluation_sets_as_scored_once(
    name: str, exact: float, simple_kept: float, n: int, complex_to_0: float
) -> None:
    """Written by the rubric by people who never saw the classifier, scored once with these
    weights and never fitted on (docs/routing.md): a floor under the figure, not a target."""
    assert name in train.EVALUATION_SETS and name not in train.TRAINING_SETS
    assert_scores(f"{name}.jsonl", exact, simple_kept, n, complex_to_0)


def test_cross_validation_over_the_training_sets_as_achieved() -> None:
    """Out-of-fold: the weights and cut points are fitted afresh without each fold."""
    metrics = cross_validate(train.training_records(), folds=5)
    assert metrics.n == 17244 and metrics.invalid == 0
    assert metrics.accuracy >= 0.931, format_report(metrics, "5-fold CV")
    assert metrics.simple_recall is not None and metrics.simple_recall >= 0.968
    assert metrics.under_routing_2_to_0 is not None and metrics.under_routing_2_to_0 <= 0.002


def test_leaving_one_set_out_fits_on_the_others_only() -> None:
    """Each set is scored by weights fitted on the other sets, never on itself."""
    dev = load_records(DATA / "dev.jsonl")
    sets = {"a": dev[:100], "b": dev[100:200], "c": dev[200:]}
    held_out = leave_one_set_out(sets)
    for name, records in sets.items():
        others = [r for other, rs in sets.items() if other != name for r in rs]
        model = train.fit(train.examples(others))
        expected = [predict(model, e) for e in train.examples(records)]
        right = sum(p == r["tier"] for p, r in zip(expected, records, strict=True))
        assert held_out[name].accuracy == right / len(records)
    in_sample = train.fit(train.examples(sets["b"]))
    fitted_on_b = [predict(in_sample, e) for e in train.examples(sets["b"])]
    assert held_out["b"].accuracy < sum(
        p == r["tier"] for p, r in zip(fitted_on_b, sets["b"], strict=True)
    ) / len(sets["b"])


# --- the features, family by family -------------------------------------------------------------


def values(text: str) -> dict[str, float]:
    return measure(user(text)).values


def test_wording_reads_distinct_words_and_pairs_of_unspaced_letters() -> None:
    assert words("what does 'api' mean? what does it do") == {
        "what",
        "does",
        "api",
        "mean",
        "it",
        "do",
    }
    assert words("这个接口 ok") == {"这个", "个接", "接口", "ok"}  # Chinese writes no spaces
    assert words("x " * 10_000) == {"x"}
    assert "beyond" not in words("word " * 2000 + "beyond")  # only the first WORDING_CHARS


def test_explain_names_the_words_that_moved_the_score() -> None:
    reasons = explain(user("Can you just tell me what 'idempotent' means?")).reasons
    assert any(r.startswith("wording ") and "'just'" in r for r in reasons), reasons


def test_every_feature_is_measured_and_weighted() -> None:
    assert set(values("hello")) == set(FEATURE_NAMES)
    assert set(train.fit([]).weights) == set(FEATURE_NAMES)
    assert 25 <= len(FEATURE_NAMES) <= 40


ARTICLE = "\n\n".join(
    f"Paragraph {i}. The committee met and discussed the budget, the schedule and the layout "
    "of the new park, and several residents spoke about parking and noise at length."
    for i in range(12)
)


def test_size_features() -> None:
    pasted = values(ARTICLE + "\n\nWho wrote this article?")
    assert pasted["pasted_lookup"] == 1 and pasted["work_on_payload"] == 0
    task = values(ARTICLE + "\n\nSummarise this article and critique its argument.")
    assert task["work_on_payload"] > 2 and task["pasted_task"] == 1 and task["pasted_lookup"] == 0
    assert values("Summarise 'a b c'.")["work_on_payload"] < 1 and not values("Hi")["pasted_task"]
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "what's 2 + 2?"},
    ]
    assert measure(history).values["history_turns"] > 0 and values("x")["history_turns"] == 0
    many = values("Compare these ten papers and find the common patterns.")
    assert many["many_documents"] == 1
    assert values("Compare two cars.")["many_documents"] == 0


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("Prove that 7 divides 49.", "prove"),
        ("Demuestra que la suma de dos pares es par.", "prove"),
        ("Démontrez que racine de 2 est irrationnel.", "prove"),
        ("Allwch chi gyfieithu'r paragraff yma i'r Gymraeg?", "transform"),
        ("能不能把上面这些整理成一页培训材料？", "write"),
        ("Montrez que le problème d'affectation est NP-difficile.", "prove"),
        ("Beweise, dass es unendlich viele Primzahlen gibt.", "prove"),
        ("证明根号二是无理数。", "prove"),
        ("Dimostra che ogni grafo planare è colorabile con 5 colori.", "prove"),
        ("Demonstre que a soma de dois ímpares é par.", "prove"),
        ("Design a booking system for a clinic.", "design"),
        ("Diseña un sistema de reservas.", "design"),
        ("Conçois un système de réservation.", "design"),
        ("Entwirf ein Buchungssystem.", "design"),
        ("设计一个预订系统。", "design"),
        ("请帮我们制定一个三年的出口战略。", "plan"),
        ("Progetta un sistema di prenotazione.", "design"),
        ("Projete a arquitetura de um sistema de votação.", "design"),
        ("Compare trains and buses for commuting.", "compare"),
        ("Compara el tren y el autobús.", "compare"),
        ("Comparez le train et le bus.", "compare"),
        ("Vergleiche Zug und Bus.", "compare"),
        ("比较火车和公共汽车。", "compare"),
        ("Scrivi una lettera al mio padrone di casa.", "write"),
        ("Escreva um e-mail para o meu senhorio.", "write"),
        ("Riassumi questo rapporto.", "analyse"),
        ("Spiega come funzionano le maree.", "explain"),
        ("Summarise this report.", "analyse"),
        ("Resume este informe.", "analyse"),
        ("Résume ce rapport.", "analyse"),
        ("Analysiere diesen Bericht.", "analyse"),
        ("总结这份报告。", "analyse"),
        ("Translate this sentence into Italian.", "transform"),
        ("Traduce esta frase al italiano.", "transform"),
        ("Traduis cette phrase en italien.", "transform"),
        ("Übersetze diesen Satz ins Italienische.", "transform"),
        ("翻译这句话。", "transform"),
        ("Write an email to my landlord.", "write"),
        ("Escribe un correo a mi casero.", "write"),
        ("Écris une lettre à mon propriétaire.", "write"),
        ("Schreib eine E-Mail an meinen Vermieter.", "write"),
        ("写一封信给房东。", "write"),
        ("Explain how tides work.", "explain"),
        ("Explica cómo funcionan las mareas.", "explain"),
        ("Explique comment fonctionnent les marées.", "explain"),
        ("Erkläre, wie Gezeiten entstehen.", "explain"),
        ("解释潮汐的原理。", "explain"),
        ("Synthesise the findings across all the studies.", "synthesise"),
        ("Make a roadmap for next year.", "plan"),
        ("Fix the bug in this loop.", "debug"),
        ("What does 'ephemeral' mean?", "meaning"),
        ("hello there!", "greeting"),
        ("Explain it step by step with an example.", "depth"),
        ("Write a Python function that sorts names.", "code_deliverable"),
        ("Migrate the whole codebase to Python 3.", "scale"),
        ("State your assumptions and the risks.", "assumptions"),
        ("List three rivers in Spain.", "enumerate"),
        ("Happy new year!!", "greeting"),
        ("任意の自然数 n について、n^5 − n が 30 で割り切れることを証明してください。", "prove"),
        ("Piano di migrazione a microservizi in 18 mesi.", "scale"),
        ("morning!! just finished my first ever 10k run", "greeting"),
        ("Rank these five laptops by battery life.", "compare"),
        # a system's service levels name a design to make
        ("How do we keep p99 under 50 ms and survive a full region outage?", "design"),
        ("Formulate this as an integer programming model.", "design"),
        ("Find the common failure modes and the research gaps.", "synthesise"),
        ("Replace the logger in every module of the repo.", "scale"),
        ("What does 'idempotent' mean in HTTP?", "meaning"),
        # more languages, German's split verb, proofs and errors named in other words
        ("Докажите, что корень из двух иррационален.", "prove"),
        ("Zaprojektuj system rezerwacji dla przychodni.", "design"),
        ("병원 예약 시스템을 설계해 주세요.", "design"),
        ("Vergelijk de trein en de bus.", "compare"),
        ("Sammanfatta rapporten i tre meningar.", "analyse"),
        ("Bu raporu özetle.", "analyse"),
        ("Fasse den Bericht in drei Sätzen zusammen.", "analyse"),
        ("Now write both proofs out fully.", "prove"),
        ("Why do I get a TypeError on line 3?", "debug"),
        ("Every finite integral domain is a field - proof please.", "prove"),
        ("Go through the whole repo and port it to Python 3.", "scale"),
        ("show the reals are uncountable", "prove"),
        ("Briefly: use Gauss's method on these three observations. Show each step.", "depth"),
        ("Where the jobs clash, propose how to resolve it.", "plan"),
        # revising in other languages, a summary asked as "tl;dr", 汇总, Japanese
        ("Pode revisar este parágrafo da minha dissertação?", "analyse"),
        ("tl;dr please", "analyse"),
        ("帮我写一个函数，按月份汇总金额。", "analyse"),
        ("家族旅行の旅程を作ってください。", "plan"),
        ("this logs an empty array. what am I doing wrong?", "debug"),
        ("that worked! can you redo it with pandas?", "write"),
        ("Super, danke dir! Schönes Wochenende :)", "greeting"),
        ("Go through every repository in our GitHub org.", "scale"),
        ("请比较这些文献的主要分歧。", "synthesise"),
        ("Reconstruct the proto-forms from these cognate sets.", "synthesise"),
        ("can this be vectorised? it's slow on 2M rows", "code_deliverable"),
        ("What's most likely going on here?", "debug"),
        ("Compárame Shopify y WooCommerce.", "compare"),
        ("Puoi aiutarmi a confrontare pro e contro?", "compare"),
        ("can you make 8 exam-style questions from these notes?", "write"),
        ("Kannst du den Satz etwas freundlicher formulieren?", "transform"),
        ("Find the common themes in these interviews.", "synthesise"),
        ("Either give a rigorous argument that it is correct, or a counterexample.", "prove"),
        ("how would u build something like OpenTable from scratch", "design"),
        ("Kannst du beide Optionen gegenüberstellen?", "compare"),
        ("Bitte den Bericht ins Englische übersetzen.", "transform"),  # "-en" asks, unlike "-n"
        ("Identifica padrões comuns, contradições e lacunas.", "synthesise"),
        ("Faça uma meta-análise dos estudos publicados desde 2015.", "synthesise"),
        ("Necesito demostrar de forma rigurosa que la suma es 180°.", "prove"),
        ("fix the grammar pls: 'Me and him goes to the gym.'", "transform"),
    ],
)
def test_task_families(text: str, family: str) -> None:
    assert values(text)[f"asks_{family}"] == 1, measure(user(text)).values


def test_a_deductible_or_a_deduction_from_pay_is_no_proof() -> None:
    excess = "compare excess vs deductible - same thing or not? yes/no is fine"
    assert values(excess)["asks_prove"] == 0
    assert values("How much tax is deducted from a bonus?")["asks_prove"] == 0
    assert values("Explain the answer, showing the chain of deductions.")["asks_prove"] == 1


def test_tier_2_kinds_of_task_and_breadth() -> None:
    short = values("Prove that there are infinitely many primes.")
    assert short["hard_task"] == 1 and short["short_hard_task"] == 1
    assert values("Write an email to Sam.")["hard_task"] == 0
    assert values("Propose a study with hypotheses and a methodology.")["hard_task"] == 1
    assert values("Who designed the Sydney Opera House?")["hard_task"] == 0  # a fact, past tense
    for system in (
        "Implement Multi-Paxos in Java with leader leases.",
        "Build a Game Boy emulator in Rust.",
        "Write a terminal text editor in C with an undo tree.",
        "用 Go 实现一个支持快照隔离的键值存储引擎。",
        "Implement, in Python, a complete interpreter for the grammar below.",
        "Write a Barnes-Hut n-body simulator in Rust for 100k bodies.",
        "Build me a full granular synth plugin in JUCE: MIDI, polyphony, presets, GUI.",
    ):
        assert values(system)["builds_system"] == 1, system
    assert values("Write a Python function that parses an ISO date.")["builds_system"] == 0
    assert values("Which engine does this car have?")["builds_system"] == 0
    assert values("Summarise the report and compare it with last year's.")["task_breadth"] == 2


def test_constraints_and_multi_part_requests() -> None:
    text = (
        "Plan a trip to Italy: a budget of at most 2,000 euros, no flights, at least two nights "
        "per stop, and it must include Rome. Then write a packing list."
    )
    measured = values(text)
    assert measured["constraints"] >= 1 and measured["listed_items"] > 0
    assert measured["sequence"] > 0
    assert values("Plan a trip to Italy.")["constraints"] == 0


def test_code_pasted_without_a_fence_is_read_as_code() -> None:
    text = (
        "Why does this throw?\n\nimport java.util.*;\n\npublic class Store {\n"
        "    private List<String> moves;\n    public void add(String a, int n) {\n"
        "        moves.add(a + n);\n    }\n}"
    )
    task = measure(user(text)).task
    assert "public class" not in task.ask and task.code_lines >= 5
    assert task.payload_words >= 1  # a block at the very end is masked, not dropped
    schema = measure(user("Tables:\norders(id, customer_id, total)\nusers(id, name)\n\nTop 5?"))
    assert "orders(" not in schema.task.ask and schema.task.code_lines >= 2
    calls = measure(user("Why is total wrong?\n\nrows = db.load(user)\nlines = [r for r in rows]"))
    assert calls.task.ask == "Why is total wrong?" and calls.task.code_lines == 2
    compose = "Which port is web on?\n\nservices:\n  web:\n    image: nginx:1.25\n    ports:\n"
    compose += '      - "8081:80"\n'
    assert measure(user(compose)).task.ask == "Which port is web on?"


def test_tracebacks_and_log_lines_are_read_as_code() -> None:
    """A pasted traceback or log is payload: its colons and commas list nothing asked."""
    traceback = (
        "Which line does this blow up on?\n\nTraceback (most recent call last):\n"
        '  File "report.py", line 42, in <module>\n    main()\n'
        '  File "report.py", line 37, in main\n    total = sum(r["amount"] for r in rows)\n'
        "KeyError: 'amount'"
    )
    task = measure(user(traceback)).task
    assert task.ask.startswith("Which line") and "File" not in task.ask and task.code_lines == 6
    dotted = "Why?\n\nTraceback (most recent call last):\ndecimal.InvalidOperation: [<class>]"
    assert measure(user(dotted)).task.ask == "Why?"
    log = (
        "nginx won't start, here's the log:\n\n"
        "2024/05/02 09:14:03 [emerg] 1877#1877: bind() to 0.0.0.0:8443 failed (98: in use)\n"
        "2024/05/02 09:14:04 [emerg] 1877#1877: still could not bind()\n"
        "[ERROR] worker exited, code: 1\n\nwhich port is the problem?"
    )
    measured = measure(user(log))
    assert "bind()" not in measured.task.ask and measured.task.code_lines == 3
    assert measured.values["listed_items"] < 0.5
    assert classify(user(log)) == 0
    sql = "which table is 'o'?\n\nSELECT c.name, o.total\nFROM customers c\nJOIN orders o ON o.id"
    assert measure(user(sql)).task.code_lines == 3
    alias = "what does this print?\n\nx = [1, 2, 3]\ny = x\ny.append(4)\nprint(len(x))"
    assert measure(user(alias)).task.ask == "what does this print?"
    literal = 'is this valid json?\n\n{"name": "Ana", "tags": ["admin", "beta"],}'
    assert measure(user(literal)).values["listed_items"] == 0


def test_the_instruction_is_found_around_a_paste() -> None:
    """A long instruction followed by code alone is the instruction; after a question about a
    pasted text, the text's last paragraph is not an instruction for saying "please"."""
    instruction = "Convert this project to TypeScript. " + "Keep the CLI and add tests. " * 12
    code = "\n\n// db.js\nconst db = require('db');\nexports.all = function () {\n  return 1;\n};"
    assert "TypeScript" in chat.split_task(instruction + "Show all files." + code).ask
    newsletter = (
        "hi - what day do the flu clinics start?\n\n"
        + "The practice had a busy summer and thanks patients. " * 30
        + "\n\nClosures. For urgent help please call 111."
    )
    assert chat.split_task(newsletter).ask == "hi - what day do the flu clinics start?"
    # ... nor for a word of work inside a sentence ("one of my better sessions"); it asks again
    # by opening a sentence with a task word, after at most a short lead
    log = "Critique this log: what's missing?\n\n" + "Clear skies, saw M31 and M42. " * 30
    assert chat.split_task(log + "\n\nOverall: one of my better sessions.").ask.count("\n") == 0
    assert "summarise" in chat.split_task(log + "\n\nAlso, summarise it in a line.").ask
    # a pasted paper's "Analyses were performed in R." names work done, asks none
    assert not cues.opens_with_work("analyses were performed in r version 4.2.")
    assert cues.opens_with_work("analyse the results.")
    # ... nor does a pasted text's heading ("Summary: ..."); the question after it asks
    assert not cues.opens_with_work("summary: on 2 july uploads failed for an hour.")
    assert cues.opens_with_work("summarise: the notes below.")
    incident = "Summary: uploads failed for 37 minutes after a CDN change. " * 12
    question = "what was the root cause?"
    assert chat.split_task(incident + "\n\n" + question).ask == question
    # a question word opens a question without its mark; a first paragraph of up to 120 words
    # that requests is the instruction
    report = "Post-incident review: INC-7\nReview meeting: 9 May.\n\n" + "It failed. " * 200
    assert "who was paged" in chat.split_task(report + "\n\nwho was paged").ask
    long_request = "We have five versions of the policy and they contradict each other. " * 7
    long_request += "I need you to reconcile them into one."
    rule = "Paste:\n\n" + "The ward was busy. " * 80 + "\n\n---\nwhat is the name of the manager"
    assert chat.split_task(rule).ask == "Paste:\n\nwhat is the name of the manager"
    review = "We got this review back on our paper. Draft a point-by-point response letter. "
    review += "Context: we added covariates and the results hold, and the typo is fixed. " * 5
    report = "\n\n".join(
        "The authors should discuss the sampling design more fully." for _ in range(9)
    )
    assert "Draft a point-by-point" in chat.split_task(review + "\n\n" + report).ask
    pasted = "\n\n".join("Version {v}: wash hands often, wipe the chairs." for v in "ABCDEFGH")
    assert "reconcile" in chat.split_task(long_request + "\n\n" + pasted * 4).ask


def test_code_features() -> None:
    fenced = values("Why does this fail?\n\n```python\nfor i in range(3):\n    print(i)\n```")
    assert fenced["code_block"] == 1 and fenced["code_lines"] > 0
    assert values("What is a loop?")["code_block"] == 0


def test_maths_features() -> None:
    equation = values("Find all f: ℝ → ℝ such that f(x + y) = f(x) + f(y) for all real x, y.")
    assert equation["math_notation"] > 0 and equation["math_terms"] > 0
    problem = values(
        "A train leaves at 9:15 and travels 240 km at 80 km/h, then waits 20 minutes and covers "
        "another 150 km at 100 km/h. When does it arrive, and what was its average speed?"
    )
    assert problem["word_problem"] == 1
    assert values("What is 15% of 240?")["word_problem"] == 0


@pytest.mark.parametrize(
    ("text", "wh", "lookup"),
    [
        ("What is the capital of Peru?", 1, 1),
        ("Is 91 a prime number?", 0, 1),
        ("My kids keep arguing at dinner, so settle it: how tall is Everest?", 1, 1),
        ("Where is Lima? Just curious.", 1, 1),
        ("Open todo.txt and tell me how many lines it has.", 1, 1),
        ("Who designed the Sydney Opera House?", 1, 1),
        ("Why does ice float? Explain it in depth.", 0, 0),
        ("What would you change in this design? Rewrite it.", 0, 0),  # the request closes
        ("Where is Lima? Thank you very much for your help.", 1, 1),
        ("Write a haiku about rain.", 0, 0),
        ("¿Cuál es la capital de Perú?", 1, 1),
        ("珠穆朗玛峰有多高？", 1, 1),
        # a dash introduces the question, as a colon does
        ("We chatted about gardens and I couldn't remember - how long do tulips last?", 1, 1),
        # a short answer asked for: explaining in one sentence is a lookup, a piece of work not
        ("Explain what a haiku is in one sentence.", 0, 1),
        ("Is this safe in the dishwasher? Short answer please.", 0, 1),
        ("Write a cover letter for me in one line.", 0, 0),
        ("Explica qué es un haiku en una frase.", 0, 1),
        ("Explica o que é um haiku numa frase só.", 0, 1),
        ("Erklär mir den Unterschied zwischen Öl und Lack, zwei Sätze reichen.", 0, 1),
        # a definition: the words name a thing, they do not ask for it
        ("What is a system design interview?", 1, 1),
        ("What is the best design for a sharded rate limiter that handles bursts?", 1, 0),
        # a comparison of two magnitudes asks for one fact
        ("Can you compare 5/8 and 0.6 and tell me which is bigger?", 1, 1),
        ("Compare Postgres and MySQL and tell me which is better.", 1, 0),
        # Italian, Portuguese, German questions, and a question opened by a preposition
        ("Qual è il vulcano attivo più alto d'Europa?", 1, 1),
        ("Quantos jogadores de cada time ficam em quadra no vôlei?", 1, 1),
        ("Stimmt es, dass die Berliner Mauer 1989 gefallen ist?", 0, 1),
        ("In which year did they set up the plots?", 1, 1),
        ("I just need one number: about how many glasses are in a 750 ml bottle?", 1, 1),
        ("Which organelle does photosynthesis? Just the name please.", 1, 1),
        ("How do you say 'I'm allergic to peanuts' in Italian?", 1, 1),
        (
            "Hoe zeg je 'spreadsheet' in het Nederlands, of gebruikt iedereen het Engelse woord?",
            1,
            1,
        ),
        ("Kurze Frage: Muss ich beim Rechtsabbiegen Fußgänger durchlassen?", 0, 1),
        # openers before the question word; a question about a fault asks for a fix
        ("Gracias, solo una cosa: ¿cuántos gramos de harina son una taza?", 1, 1),
        ("yes, until what time are you open on sunday?", 1, 1),
        ("so many butterflies?? anyway who wrote One Hundred Years of Solitude", 1, 1),
        ("My C function to reverse a string segfaults. What's wrong?", 1, 0),
        # a tier-2 kind of task heading a question: the question is the task's subject
        ("Research plan: does low-dose aspirin help older runners?", 0, 0),
        ("Quick architecture question: in a Gothic cathedral, what is a flying buttress?", 1, 1),
        ("Dumb question but how long is a marathon in miles, exactly?", 1, 1),
        ("Comment on dit « invoice » en français : c'est « facture » ou « addition » ?", 0, 1),
        ("「ありがとう」をもっと丁寧に言うと、どう言えばいいですか？", 1, 1),
        # brevity asked for in other words
        ("why does `x` print false in JS? one line answer", 0, 1),
        ("just tell me the normal resting heart rate for an adult, no lecture please", 0, 1),
        ("Explain, briefly, what TTL stands for. Just the expansion, nothing else.", 0, 1),
        # narration after a question does not replace it; a statement is no yes/no question
        (
            "Comment dit-on « wrench » en français ? Je suis plombier et mon apprenti est anglais.",
            1,
            1,
        ),
        (
            "can you explain modes with examples?? i play guitar, can read chords but no theory",
            0,
            0,
        ),
        ("need a bash script that tars /srv nightly. should exit non-zero if tar fails", 0, 0),
        ("should i bring a jacket to Lisbon in May", 0, 1),
        (
            "Explain the offside rule properly - not the one-line version - with three examples.",
            0,
            0,
        ),
        # a clause before the question word does not lengthen the question
        ("If I sell something for £24 including 20% VAT, how much of that is the VAT?", 1, 1),
        (
            "what works, what's weak in the pacing and the ending, and what would you cut first?",
            1,
            0,
        ),
        # brevity asked of one part of a larger task, or of a whole short one
        ("Review this clause and redraft it for my client. Explain each change in a line.", 0, 0),
        ("love it. give it a title, three words max", 0, 1),
        ("tl;dr what's a Roth IRA", 1, 1),
        # tag questions, sums, magnitudes after a comparison word, two openers
        ("standard autoclave cycle for liquids is 121 C, right?", 0, 1),
        ("17% of 2,340 = ?", 1, 1),
        ("compare 3/8 and 5/16, which is bigger?", 1, 1),
        ("ok so what pressure do I put in the front tyres?", 1, 1),
        ("C homework, just say the output of this loop", 0, 1),
        ("is 221 prime", 0, 1),
        # a choice between two things; brevity asked with every step shown is no lookup
        ("So, botanically speaking: fruit or vegetable?", 1, 1),
        # a short interjection before the clause; brevity asked of a design; a request that
        # lists its questions; "que" is "that" outside a question
        ("Anyway, so I never forget again, what's the default Postgres port?", 1, 1),
        ("Briefly: design the sync protocol - CRDT choice, and how you'd compact history.", 0, 0),
        ("Honest critique please: what works, what drags, and which part you'd cut?", 1, 0),
        ("Escríbeme un correo. Tono cordial, que no suene a excusa.", 0, 0),
        # a few words with no one to do anything; "wait", "kannst du" open questions
        ("Patient weighs 68 kg, dose is 1.5 mg/kg. Total dose in mg?", 1, 1),
        ("wait is pluto a planet or not anymore??", 0, 1),
        # a sentence opening with a gerund after the question tells, not asks
        (
            "what time is sunset in Lisbon tomorrow? heading up to the roof with two friends later",
            1,
            1,
        ),
        ("Kannst du mir diesen Satz ins Englische übersetzen?", 0, 1),
        # Spanish narration needs no subject: "voy al médico" after the question is a remark
        ("¿cómo se dice 'estoy resfriado' en inglés? voy al médico mañana en Dublín", 1, 1),
        (
            "Briefly: use Gauss's method to find the orbit from three points. Show each step.",
            0,
            0,
        ),
        # remarks typed without apostrophes, or that point at the paste, still only tell
        (
            "whats the fridge temp meant to be?? its in here somewhere, the inspector might pop "
            "in later today",
            1,
            1,
        ),
        (
            "whats the number im meant to ring back? these are the notes from the answerphone "
            "that Bev typed up",
            1,
            1,
        ),
        # Korean: a polite ending, or "how many", closing a question
        ("근데 궁금한 게, 영국 1파운드는 몇 펜스예요?", 1, 1),
        # Polish: "jak się nazywa" asks a name; "nie mam ..." after a question only tells
        ("W załączniku jest umowa. Jak nazywa się firma, z którą ją podpisaliśmy?", 1, 1),
        (
            "Jaki jest typowy moment dokręcania śrub kół? Nie mam teraz instrukcji pod ręką, "
            "chodzi mi tylko o rząd wielkości.",
            1,
            1,
        ),
    ],
)
def test_question_shape(text: str, wh: int, lookup: int) -> None:
    measured = values(text)
    assert (measured["wh_question"], measured["lookup_question"]) == (wh, lookup)


def test_a_task_done_before_a_closing_question_still_asks() -> None:
    """ "Do a meta-analysis of ..." or "Search the literature ... and run a meta-analysis" asks
    for it, though a lookup question closes the prompt; the same task told as done is
    background."""
    asked = values("Do a meta-analysis of the published trials of standing desks. Do they help?")
    assert asked["asks_synthesise"] == 1
    told = values("We did a meta-analysis of the trials last year. Do they help?")
    assert told["asks_synthesise"] == 0
    searched = values(
        "Search the literature for every trial since 2000 and run a meta-analysis by age. "
        "Flag the weak ones and tell me whether the effect holds up."
    )
    assert searched["asks_synthesise"] == 1 and searched["lookup_question"] == 1


def test_a_named_thing_is_not_a_task() -> None:
    """A definition's words, a magnitude comparison and an agent noun ask for nothing."""
    definition = values("What is a system design interview?")
    assert definition["asks_design"] == definition["hard_task"] == definition["task_breadth"] == 0
    assert values("Quick comparison: which is longer, a marathon or 40 km?")["asks_compare"] == 0
    assert values("Compare a marathon and 40 km.")["asks_compare"] == 1
    assert values("How many stars did the reviewer give?")["asks_analyse"] == 0
    assert values("Review my essay.")["asks_analyse"] == 1
    assert values("Search for reviews of three e-bikes.")["asks_analyse"] == 0
    assert values("Top customers per region, ties broken by id.")["asks_debug"] == 0
    assert values("The build is broken after the upgrade.")["asks_debug"] == 1
    assert values("Explain Bayes with a test of 90% sensitivity.")["asks_assumptions"] == 0
    # an average, a clause and a column are not a definition, a scope or a ranking to do
    assert values("Why is my groupby giving NaN for the mean?")["asks_meaning"] == 0
    assert values("The union agreement means no redundancies before Q3.")["asks_meaning"] == 0
    assert values("Print 'done' after every file is uploaded.")["asks_scale"] == 0
    assert values("Add a column with each customer's rank in their country.")["asks_compare"] == 0
    # a plan or a logo to design is a plan or a drawing, not a system
    assert values("Design me a 6-week plan to run 5k.")["asks_design"] == 0
    assert values("Design a logo for my bakery.")["asks_design"] == 0
    assert values("Design a sharded rate limiter.")["asks_design"] == 1
    # ... but a card that ends its phrase only: a card fraud pipeline is a system
    assert values("Design a birthday card for my mum.")["asks_design"] == 0
    assert values("Design a real-time card fraud detection pipeline.")["asks_design"] == 1
    # an item of a list, and a thing named after a preposition in a wh-question
    assert values("Extract the methods (participants, design, measures).")["asks_design"] == 0
    assert values("How much storage do you get on the Free plan?")["asks_plan"] == 0
    assert values("Which host port is the db exposed on in this compose file?")["asks_write"] == 0
    assert values("Plan my week: gym, work, two dinners.")["asks_plan"] == 1
    assert values("plan pays 50% after the deductible. what does she owe?")["asks_plan"] == 0
    # bread that proofs longer is no proof; merging files is no synthesis
    assert values("thanks, letting the sourdough proof longer worked!")["asks_prove"] == 0
    assert values("Give a rigorous proof of it.")["asks_prove"] == 1
    assert values("Ein Skript, das alle CSV-Dateien zusammenführt.")["asks_synthesise"] == 0
    # what a thing could mean for us is no meaning asked; an architect is a person
    assert values("Summarise it: what could it mean for a bakery?")["asks_meaning"] == 0
    assert values("What does 'proof' mean here?")["asks_meaning"] == 1
    assert values("Apologies: architect (sent comments).")["asks_design"] == 0
    assert values("How would we architect the ingestion?")["asks_design"] == 1
    # one function refactored, a full-time job: no work at scale
    assert values("refactor this so a human can read it")["asks_scale"] == 0
    assert values("Refactor the billing module into services.")["asks_scale"] == 1
    assert values("¿Cuántos días tiene un trabajador a jornada completa?")["asks_scale"] == 0
    # a price's assumption is a figure, the assumptions to state are work
    assert values("Write a paragraph explaining the price assumption.")["asks_assumptions"] == 0
    assert values("List the assumptions behind the forecast.")["asks_assumptions"] == 1
    # a fit's uncertainties are a figure to print; a proof may be named by two words
    assert values("Print the fitted parameters with uncertainties.")["asks_assumptions"] == 0
    assert values("Give a proper correctness proof of this loop.")["asks_prove"] == 1
    # a teaching committee teaches nobody; "teach me" asks
    assert values("School of Physics - Teaching Committee minutes")["asks_explain"] == 0
    assert values("Teach me how a heat pump works.")["asks_explain"] == 1
    # Arabic: its script names the language, its task words their families
    arabic = values("صمّم نظامًا لمعالجة طلبات القبول واشرح البنية")
    assert (arabic["asks_design"], arabic["non_english"]) == (1, 1)
    assert values("ما هي ترجمة كلمة deadline؟")["asks_transform"] == 1
    # threatening someone is no threat model; "no downtime" is a service level
    assert values("Ask him to fix it without threatening to sue.")["asks_assumptions"] == 0
    assert values("List the threats to the booking app.")["asks_assumptions"] == 1
    assert values("work out how to switch databases with no downtime")["asks_design"] == 1
    # how a system would or should be built, in English, Spanish, French and Portuguese
    assert values("How should we structure the sync service?")["asks_design"] == 1
    assert values("¿Cómo harías un sistema de reservas para 300 clínicas?")["asks_design"] == 1
    assert values("Comment organiseriez-vous la fusion des deux équipes ?")["asks_design"] == 1
    assert values("Como você faria a migração do servidor?")["asks_design"] == 1
    # an actual proof; a systematic review and a meta-analysis (Arabic) are syntheses
    assert values("I want an actual proof, not a hunch.")["asks_prove"] == 1
    assert values("Run a systematic review of sleep apps.")["asks_synthesise"] == 1
    assert values("اكتب بروتوكول تحليل تلوي عن النوم")["asks_synthesise"] == 1
    assert values("Preciso de um projeto de investigação sobre o sono.")["hard_task"] == 1
    # from scratch, end to end, through the repo: work at scale; a complete example is not
    assert values("Monta una tienda online desde cero.")["asks_scale"] == 1
    assert values("Think it through end to end.")["asks_scale"] == 1
    assert values("Go through the repo and remove the dead flags.")["asks_scale"] == 1
    assert values("Dame un ejemplo completo con metatablas.")["asks_scale"] == 0
    assert values("Write a complete example of a Lua iterator.")["asks_scale"] == 0
    # Welsh, Swahili, Somali, Hindi (its script names the language), Urdu and Romanian
    assert values("Profwch fod gwreiddyn dau yn afresymegol.")["asks_prove"] == 1
    assert values("Andaa mpango wa utafiti kuhusu mvua na mavuno.")["hard_task"] == 1
    assert values("Fadlan ii sharax sida cashuurta loo xisaabiyo.")["asks_explain"] == 1
    hindi = values("इन दोनों फ़ोनों की तुलना कीजिए")
    assert (hindi["asks_compare"], hindi["non_english"]) == (1, 1)
    assert values("مجھے اسکول کے لیے ایک خط لکھ دیں")["asks_write"] == 1
    assert values("Cum se spune în engleză „factură”?")["asks_transform"] == 1
    # Vietnamese, Tagalog, Ukrainian, Czech; Greek and Hebrew (their scripts name the language)
    assert values("Chứng minh rằng có vô số số nguyên tố.")["asks_prove"] == 1
    assert values("Pwede mo bang ipaliwanag kung paano gumagana ang VAT?")["asks_explain"] == 1
    assert values("Як перекласти слово «накладна»?")["asks_transform"] == 1
    assert values("Porovnej tyto dvě nabídky pojištění.")["asks_compare"] == 1
    greek = values("Απόδειξε ότι η ρίζα του δύο είναι άρρητος.")
    assert (greek["asks_prove"], greek["non_english"]) == (1, 1)
    hebrew = values("איך היית בונה מערכת הזמנות לשלושה מלונות?")
    assert (hebrew["asks_design"], hebrew["non_english"]) == (1, 1)
    # Hungarian, Malay, Persian, Amharic; German "komplett" is work at scale
    assert values("Hogyan építenél fel egy raktárkezelő rendszert?")["asks_design"] == 1
    assert values("Tolong bandingkan dua tawaran ini.")["asks_compare"] == 1
    assert values("ثابت کن که رادیکال دو گنگ است.")["asks_prove"] == 1
    assert values("ለደንበኞቻችን አጭር ደብዳቤ ጻፍልኝ")["asks_write"] == 1
    assert values("Schreib mir eine komplett neue Webseite.")["asks_scale"] == 1
    # Tamil, Bengali, Finnish, Norwegian (Tamil, Bengali and Thai scripts name the language)
    tamil = values("4k+3 வடிவில் உள்ள பகா எண்கள் முடிவற்றவை என்பதை நிரூபிக்கவும்.")
    assert (tamil["asks_prove"], tamil["non_english"]) == (1, 1)
    bengali = values("আমাদের জন্য একটা ৫ বছরের কৌশলগত পরিকল্পনা তৈরি করে দিন।")
    assert (bengali["asks_plan"], bengali["non_english"]) == (1, 1)
    assert values("ร้านเรามี 4 สาขา")["non_english"] == 1
    assert values("Todista, että neliöjuuri kahdesta on irrationaalinen.")["asks_prove"] == 1
    milp = values("Muotoile resurssien kohdistus MILP-ongelmaksi.")
    assert milp["asks_design"] == 1
    assert values("Sett opp en fullstendig plan for bygget.")["asks_scale"] == 1
    assert values("Tolong ringkas laporan ini jadi 5 poin.")["asks_analyse"] == 1
    # a lit review the writer is doing, an extract pasted below: no review or extraction asked
    assert values("whats the main finding? skimming for a lit review")["asks_analyse"] == 0
    assert values("From the report extract below, what bearing pressure?")["asks_analyse"] == 0
    assert values("Extract the dates from this email.")["asks_analyse"] == 1
    # a topic named before "question" asks for nothing of its kind
    assert values("Strategy question lol - top shelf or bottom shelf?")["asks_plan"] == 0
    assert values("Write a pricing strategy for the shop.")["asks_plan"] == 1
    # pros/cons is a comparison; a VBA macro is code to write
    assert values("What are the real pros/cons for us?")["asks_compare"] == 1
    assert values("need an excel VBA macro that copies the sheet")["asks_code_deliverable"] == 1
    # a schedule there to check is no plan asked; a repair design organisation designs nothing
    assert values("can you check the schedule and tell me my flights on friday")["asks_plan"] == 0
    assert values("Make a schedule for the three of us.")["asks_plan"] == 1
    assert values("ask a Part-21 repair design org for a scheme")["asks_design"] == 0
    # Italian "completata" is done, not complete work; Hindi's research plan; Polish "how in
    # English"
    assert values("i criteri per considerare la lezione completata")["asks_scale"] == 0
    assert values("मैं एक पूरा रिसर्च प्लान चाहता हूँ")["hard_task"] == 1
    assert values("Jak po angielsku napisać: „Dziękujemy”?")["asks_transform"] == 1
    # a spreadsheet formula is code, its commas no list of demands
    formula = values("Explain in one line what this does: \n=IFERROR(VLOOKUP(A2,R!A:C,3,0),0)")
    assert formula["listed_items"] < 0.5 and formula["code_lines"] > 0
    # a name, a title or a subject line to design is a line of text, not a system; a bank
    # reconciliation is bookkeeping, not a synthesis
    assert values("can you design a subject line for the reminder email?")["asks_design"] == 0
    assert values("design a name for our new kitten room!")["asks_design"] == 0
    assert values("walk me through a bank reconciliation")["asks_synthesise"] == 0
    assert values("reconcile the two reports' figures")["asks_synthesise"] == 1
    # French "récapitulatif" is a summary; German "formulieren" drafts, "umformulieren" rephrases
    assert values("fais-moi un récapitulatif par fournisseur")["asks_analyse"] == 1
    assert values("Kannst du mir eine E-Mail an den Mandanten formulieren?")["asks_write"] == 1
    assert values("Kannst du den Satz umformulieren?")["asks_transform"] == 1
    # Thai writes no spaces between words: its task words are matched anywhere, its script
    # names the language, and its question words close a question
    thai_plan = values("ช่วยวางแผนการวิจัยแบบละเอียดหน่อยค่ะ")
    assert (thai_plan["hard_task"], thai_plan["asks_depth"], thai_plan["non_english"]) == (1, 1, 1)
    assert values("ช่วยออกแบบระบบจัดการสต็อกแบบรวมศูนย์")["asks_design"] == 1
    assert values("เอกสารนี้ลงวันที่เท่าไหร่คะ ขอแค่วันที่")["lookup_question"] == 1
    assert values("ร้านเรามี 4 สาขา")["asks_plan"] == 0
    # a whole design declined is no design asked
    assert values("arial or helvetica? I don't need a whole design thing")["asks_design"] == 0
    # Holland is no greeting
    assert cues.cue_counts("las leyes de holanda sobre juegos")["greeting"] == 0
    assert cues.cue_counts("¡hola! ¿qué hora es en lima?")["greeting"] == 1
    # units are not maths notation
    assert values("Pour a slab 6 m x 4 m, about 2.4 m³ of concrete.")["math_notation"] == 0
    assert values("Solve x² + 3x = 4.")["math_notation"] > 0
    # a word mentioned, what code evaluates to, a frequency: no task asked
    assert values("past participle of prove - proved or proven?")["asks_prove"] == 0
    assert values("Does `[] == false` evaluate to true in JS?")["asks_analyse"] == 0
    assert values("Put the most common problems first.")["asks_synthesise"] == 0
    assert values("Find the common problems across these reports.")["asks_synthesise"] == 1
    assert values("Rewrite it and add a couple of tests.")["asks_code_deliverable"] == 1
    # a meaning asked: the other words name things
    stand_for = values("What does UX stand for in UX design?")
    assert stand_for["asks_meaning"] == 1 and stand_for["asks_design"] == 0
    # ... but only the words after it: a summary asked before a meaning is still asked
    summary = values("¿Me haces un resumen en 5 puntos y una frase sobre qué significa?")
    assert summary["asks_analyse"] == 1 and summary["asks_meaning"] == 1
    # "completely", "would you believe it", a planning application, times and thousands
    assert values("My mind went completely blank. What's the word?")["asks_scale"] == 0
    assert values("Add a dentist appointment on Thursday at 3:30pm.")["listed_items"] == 0
    assert values("How long is a planning application consultation?")["asks_plan"] == 0
    assert values("Identify the gaps no study addresses.")["asks_synthesise"] == 1
    assert values("Below are nine abstracts. Compare them.")["many_documents"] == 1
    assert values("Build a model of how rainfall affects yields.")["asks_analyse"] == 1
    # a supplier is no proof, a Dutch schedule no English schema, a garage no text to convert
    assert values("Escribe un correo a nuestro proveedor.")["asks_prove"] == 0
    assert values("Compare PostgreSQL and MongoDB: schema changes, ops.")["asks_plan"] == 0
    assert values("Help us plan it: converting the garage into a bedroom.")["asks_transform"] == 0
    assert values("Convert 5 miles to km.")["asks_transform"] == 1
    assert values("Reconcile the five versions of the policy.")["many_documents"] == 1
    # "why??" is one question
    # "completely" is no size, a year no quantity, a fix declined no fix, a name in capitals no
    # cue (unless the whole text shouts)
    assert values("It was a completely different date. Who was right?")["asks_scale"] == 0
    story = "In 1987, or 1991, the wall fell, said two of my 30 pupils. What year was it?"
    assert values(story)["word_problem"] == 0
    assert (
        values("Which line did this blow up on? Don't need a fix, just where.")["asks_debug"] == 0
    )
    assert values("In one sentence, what does Postgres's ANALYZE command do?")["asks_analyse"] == 0
    assert values("ANALYZE THIS REPORT")["asks_analyse"] == 1
    # a teacher, what the writer is doing, a given of a problem, a kind of mathematical function
    assert values("wait, my teacher said one thing and youtube another")["asks_explain"] == 0
    assert values("Blot or ELISA? I'm designing my first experiment")["asks_design"] == 0
    assert values("Assuming one compartment, what is the trough?")["asks_assumptions"] == 0
    assert values("Name three common loss functions.")["asks_code_deliverable"] == 0
    assert values("make a file")["asks_write"] == 0  # a tool's action, not a text to write
    # a thing named after a short opener ("tl;dr what's a design pattern?"); grammar is no bug
    assert values("tl;dr what's a design pattern? one sentence please")["asks_design"] == 0
    assert values("fix the grammar pls: 'Me and him goes.'")["asks_debug"] == 0
    # proving to a person is convincing them; several documents named in other languages
    assert values("I need to prove to my manager that we need monitors.")["asks_prove"] == 0
    assert values("Compara estes seis estudos sobre teletrabalho.")["many_documents"] == 1
    # common causes of one thing are general knowledge; of several sources, a synthesis
    assert values("name three common causes of a car battery draining")["asks_synthesise"] == 0
    assert values("I'm planning a lesson. Explain the causes of WW1.")["asks_plan"] == 0
    assert values("I have a student loan (plan 2). Compare the options.")["asks_plan"] == 0
    # a question that asks for work before the closing one: no single lookup
    code = "\n\n```python\nwith a:\n    with b:\n        move()\n```\n\n"
    deadlock = values("why does this deadlock sometimes?" + code + "and what's the standard fix")
    assert deadlock["lookup_question"] == 0
    # "give me ..." requests, and its words count around a lookup
    assert values("ok. give me a full 8-week schedule. who drives on monday?")["asks_plan"] == 1
    listed = values("make a list of what to pack")
    assert listed["asks_enumerate"] == 1 and listed["asks_write"] == 0
    assert values("why does this log 'done' first??")["questions"] == values("why?")["questions"]
    # a question without its mark is a question: "how do i ...", "should i ..."
    unmarked = values("how do I hard boil eggs so the yolk doesnt turn grey")["questions"]
    assert unmarked == values("how do I hard boil eggs?")["questions"] == 0.5
    assert values("should i book the train now or wait")["questions"] == 0.5
    assert values("Do a full threat model of our hub.")["questions"] == 0
    # a function to write is one piece of work, not two
    assert values("Write a function that adds two numbers.")["task_breadth"] == 1


def test_narration_around_a_lookup_question_asks_for_nothing() -> None:
    """Around a lookup question only questions and requests count; words of work in the
    story around it ("my mind went completely blank") do not."""
    chatty = values(
        "My nephew asked me what a group of crows is called, and my mind went completely blank. "
        "I'm not asking you to plan anything: what is a group of crows called?"
    )
    assert chatty["lookup_question"] == 1
    assert chatty["asks_scale"] == chatty["asks_plan"] == chatty["task_breadth"] == 0
    asked = values("Write a function that reverses a list. What is its time complexity?")
    assert asked["lookup_question"] == 1 and asked["asks_write"] == 1  # a request still counts
    lead = values("Design the research program: which studies, in what order, how many people?")
    assert lead["asks_design"] == 1 and lead["hard_task"] == 1  # so does one that introduces it


def test_quoted_words_are_not_the_task() -> None:
    assert values("What does 'analyze' mean?")["asks_analyse"] == 0
    assert values("Analyze this.")["asks_analyse"] == 1


def test_language() -> None:
    assert values("¿Cuál es la capital de Perú?")["non_english"] == 1
    assert (
        explain(user("Wie hoch ist die Zugspitze? Ich bin neugierig, bitte.")).features["language"]
        == "de"
    )
    assert values("What is the capital of Peru?")["non_english"] == 0


def test_the_cue_scanner_finds_what_the_plain_alternation_finds() -> None:
    """`scan.CueScanner` files the families' alternatives by first letter; on every prompt of
    the labelled sets and on mixed-script text it matches exactly what one regex would."""
    reference = re.compile(scan.reference_pattern(cues.FAMILIES))
    texts = [
        str(m["content"]).lower()
        for name in (*train.TRAINING_SETS, *train.EVALUATION_SETS)
        for r in load_records(DATA / f"{name}.jsonl")
        for m in r["messages"]
    ]
    texts += ["设计一个系统，然后 compare 两个方案", "докажите, что x_design", "a_prove prove"]
    for text in texts:
        expected = [(m.lastgroup, m.span()) for m in reference.finditer(text)]
        assert [(m.lastgroup, m.span()) for m in cues.CUES.finditer(text)] == expected, text
    assert cues.CUES.match("x_prove", 2) is None and cues.CUES.match("prove it") is not None
    with pytest.raises(ValueError, match="begins"):
        scan.first_letters(r"\w+ing")


# --- cost: long inputs are read as a bounded sample ---------------------------------------------


def test_a_long_turn_is_sampled_with_its_edges_and_counts_extrapolated() -> None:
    body = "Please read this.\n\n" + "lorem ipsum dolor sit amet " * 160_000 + "\n\nWho wrote it?"
    sample, scale = chat.bounded_sample(body)
    bound = 2 * chat.SAMPLE_EDGE_CHARS + chat.SAMPLE_WINDOWS * (chat.SAMPLE_WINDOW_CHARS + 2)
    assert len(sample) <= bound and scale > 100
    assert sample.startswith("Please read this.") and sample.endswith("Who wrote it?")
    task = chat.split_task(body)
    assert abs(task.payload_words - 5 * 160_000) < 0.05 * 5 * 160_000
    assert task.ask.endswith("Who wrote it?") and task.ask_words <= chat.EDGE_LAST_WORDS
    assert chat.bounded_sample("short") == ("short", 1.0)


def test_a_4_mb_prompt_is_classified_by_its_ask_and_size() -> None:
    paste = "The committee met and discussed the budget at length. " * 76_000  # ~4 MB
    result = explain(user(paste + "\n\nWhat is the date of the meeting?"))
    assert result.tier == 2 and result.features["context_tier"] == 2
    assert result.features["est_tokens"] == len(paste + "\n\nWhat is the date of the meeting?") // 4


@pytest.mark.parametrize(
    ("prompt", "tier"),
    [
        ("What is the boiling point of ethanol?", 0),
        ("Translate 'see you tomorrow' into French.", 0),
        ("What does 'refactor' mean?", 0),
        ("hello there!", 0),
        ("How many grams are in a kilogram?", 0),
        ("Write a Python function that merges two sorted lists, with tests.", 1),
        pytest.param(
            "Draft an email asking my landlord to fix the leaking kitchen tap.",
            1,
            marks=pytest.mark.xfail(
                strict=True,
                reason="a known miss since round 35: 'fix' reads as a fault to debug (-0.21) and "
                "the wording of a short personal note ('asking', 'my', 'fix') pulls the score "
                "(0.64) under the tier-1 cut (2.29); the sets' own short emails are longer",
            ),
        ),
        ("Explain how HTTPS certificates work, with an example of the chain of trust.", 1),
        pytest.param(
            "Kotlin or Swift for a first mobile app? Walk me through the trade-offs.",
            1,
            marks=pytest.mark.xfail(
                strict=True,
                reason="a known miss since round 33: the sets' many comparisons of two numbers "
                "(tier 0) weigh a comparison asked for at -0.20 (round 61), and the question mark "
                "of the choice pulls the score (0.72) under the tier-1 cut (2.29)",
            ),
        ),
        ("Prove that the product of two odd integers is odd.", 2),
        ("Briefly, how would you build a global CDN?", 2),
        ("Design a research plan to test whether standing desks improve focus in offices.", 2),
        ("Démontrez qu'il existe une infinité de nombres premiers.", 2),
    ],
)
def test_own_prompts(prompt: str, tier: int) -> None:
    assert classify(user(prompt)) == tier, explain(user(prompt))


def test_context_rule_raises_trivial_questions() -> None:
    question = "What's the title of the attached document?"
    assert classify(user(question)) == 0
    for n_words, tier in ((3000, 1), (12000, 2)):
        record = {"id": "x-1", "filler_words": n_words, "messages": user(question)}
        assert classify(expand_messages(record)) == tier


def test_long_text_with_trivial_question_stays_simple() -> None:
    assert classify(user(ARTICLE + "\n\nWho wrote this article?")) == 0
    assert classify(user(ARTICLE + "\n\nSummarize this article and critique its argument.")) == 1


# --- inputs of every shape ---------------------------------------------------------------------


def test_empty_and_none_inputs() -> None:
    assert classify([]) == 0
    assert classify(None) == 0
    assert classify(user(None)) == 0
    assert classify([{"role": "user"}]) == 0


def test_content_as_list_of_parts() -> None:
    parts = [
        {"type": "text", "text": "Prove that there are infinitely many primes."},
        {"type": "image_url", "image_url": {"url": "data:,"}},
    ]
    assert classify(user(parts)) == 2


def test_message_objects() -> None:
    messages = [
        Message(role="system", content="You are terse."),
        Message(role="user", content="Design a multi-region payments platform with failover."),
    ]
    assert classify(messages) == 2


def test_final_user_turn_is_the_task() -> None:
    messages = [
        {"role": "user", "content": "Prove that sqrt(2) is irrational."},
        {"role": "assistant", "content": "Suppose sqrt(2) = p/q in lowest terms..."},
        {"role": "user", "content": "thanks! what's the capital of Peru?"},
    ]
    assert classify(messages) == 0
    trailing_assistant = [*messages[:2], {"role": "assistant", "content": "Anything else?"}]
    assert classify(trailing_assistant) == 2  # the last *user* turn is the task
    assert classify([{"role": "system", "content": "Prove Fermat's little theorem."}]) == 2
    # "go ahead" accepts what the assistant offered: that offer, on what was asked, is the task
    offer = [
        {"role": "user", "content": "Our monolith is 60k lines of Java 8 with 40 integrations."},
        {"role": "assistant", "content": "I'll propose a phased migration plan to Java 21."},
        {"role": "user", "content": "yes, go ahead."},
    ]
    assert "phased migration plan" in chat.final_turn([(m["role"], m["content"]) for m in offer])
    assert classify(offer) >= 1


def test_explain_gives_features_and_reasons() -> None:
    result = explain(user("Quick question: design a sharded rate limiter for 1M rps."))
    assert isinstance(result, Classification)
    assert result.tier == 2
    assert result.features["context_tier"] == 0
    assert result.features["measures"]["asks_design"] == 1
    assert any("tier 2" in reason for reason in result.reasons)
    json.dumps(result.features)  # the decision travels as JSON (`harombe route --json`)
    simple = explain(user("What does 'analyze' mean?"))
    assert simple.tier == 0 and simple.reasons


# --- evaluation and report ----------------------------------------------------------------------


def test_evaluate_counts_invalid_predictions_and_formats_report() -> None:
    records = [
        {"id": "a", "messages": user("hi"), "tier": 0},
        {"id": "b", "messages": user("Prove it."), "tier": 2},
        {"id": "c", "messages": user("Write a poem."), "tier": 1},
    ]

    def router(messages: list[dict]) -> int:
        text = messages[-1]["content"]
        if text == "Write a poem.":
            raise RuntimeError("boom")
        return 0

    metrics = evaluate(records, router)
    assert metrics.confusion == [[1, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
    assert metrics.invalid == 1 and metrics.accuracy == pytest.approx(1 / 3)
    assert metrics.under_routing_2_to_0 == 1.0
    report = format_report(metrics)
    assert "| 0 | 1 | 0 | 0 | 0 |" in report and "invalid" in report
