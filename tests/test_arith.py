import random
import re

from rewards.exact_match import is_correct
from train.tasks import arith, word_count


def test_splits_are_fixed_balanced_and_disjoint():
    a = arith.build_split("val", 0, word_count)
    assert a == arith.build_split("val", 0, word_count)  # same seed, same rows
    assert a != arith.build_split("val", 1, word_count)
    counts = [sum(r["difficulty"] == d for r in a) for d in range(1, arith.MAX_OPS + 1)]
    assert counts == [len(a) // arith.MAX_OPS] * arith.MAX_OPS
    train = {r["prompt"] for r in arith.build_split("train", 0, word_count, size=3000)}
    test = {r["prompt"] for r in arith.build_split("test", 0, word_count)}
    assert not train & {r["prompt"] for r in a} and not train & test


def test_traces_are_correct_and_values_stay_in_range():
    rng = random.Random(0)
    for _ in range(300):
        problem = arith.make_problem(rng, rng.randint(1, arith.MAX_OPS))
        trace = arith.sample_trace(problem, rng)
        assert is_correct(trace, str(problem["answer"]))
        for a, op, b, c in re.findall(r"(\d+) ([+-]) (\d+) = (\d+)", trace):
            assert (int(a) + int(b) if op == "+" else int(a) - int(b)) == int(c)
            assert 0 <= int(c) <= arith.MAX_VALUE


def test_oracle_is_the_shortest_sufficient_trace():
    rng = random.Random(1)
    for n_ops in range(1, arith.MAX_OPS + 1):
        problem = arith.make_problem(rng, n_ops)
        oracle = arith.oracle_trace(problem)
        if n_ops == 1:
            assert oracle == f"#### {problem['answer']}"  # the prompt shows both operands already
        else:
            assert oracle.count("=") == n_ops and "so" not in oracle and "check" not in oracle
        assert word_count(oracle) <= min(word_count(arith.sample_trace(problem, rng)) for _ in range(50))


def test_verbosity_is_a_continuum():
    """Every number of extras per step occurs, and trace lengths fill the range between oracle and wordiest."""
    rng = random.Random(2)
    problem = arith.make_problem(rng, 4)
    lengths = {word_count(arith.sample_trace(problem, rng)) for _ in range(2000)}
    concise = word_count(arith.oracle_trace(problem))
    wordiest = word_count(arith.trace_text(problem, [arith.MAX_EXTRAS] * 4))
    assert min(lengths) == concise and max(lengths) == wordiest
    assert len(lengths) >= 10  # many intermediate lengths, not two modes


def test_rows_record_oracle_tokens_with_eos():
    # direct answer "#### N" + end of sequence; else k concise steps "a op b = c ;" + "#### N" + end of sequence
    for row in arith.build_split("val", 0, word_count, size=10):
        k = row["difficulty"]
        assert row["oracle_tokens"] == (3 if k == 1 else 6 * k + 3)


def test_rl_prompts_are_never_in_the_warm_start():
    from train import tasks

    task = tasks.get("arith")
    train, val = task.load(0, val_size=20)
    sft, rl = task.sft_rows(train), task.rl_rows(train)
    assert len(sft) + len(rl) == len(train) and 0.1 < len(rl) / len(train) < 0.3
    assert not {r["prompt"] for r in sft} & {r["prompt"] for r in rl}
    assert {r["difficulty"] for r in rl} == {1, 2, 3, 4, 5}
    dataset = task.rl_dataset(train)
    assert len(dataset) == len(rl) and set(dataset["prompt"]) == {r["prompt"] for r in rl}


def test_warm_start_has_concise_long_traces_but_leans_wordy():
    """The base model must see the concise trace at every difficulty (else the oracle is out of its reach),
    while most steps still carry an extra (so its greedy answers are the wordy ones)."""
    rng = random.Random(3)
    problems = [arith.make_problem(rng, arith.MAX_OPS) for _ in range(2000)]
    traces = [arith.sample_trace(p, rng) for p in problems]
    concise = sum(t == arith.oracle_trace(p) for p, t in zip(problems, traces)) / len(traces)
    assert abs(concise - arith.CONCISE_TRACE_RATE) < 0.03
    steps_with_extra = sum(len(re.findall(r"= \d+ ; (?:so|check)", t)) for t in traces) / (len(traces) * arith.MAX_OPS)
    assert steps_with_extra > 0.5
