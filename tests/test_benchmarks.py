"""The benchmark scripts' own logic: run caching by settings, sweep arguments, the Pareto check."""

import json
import subprocess
from pathlib import Path

from launch.compare import METHODS, dominated_by, fill_ratio, fill_target, with_coefficient
from train.runcache import run_dir, settings_key


def test_settings_key_ignores_order_and_logging_but_not_settings():
    a = ["--seed", "0", "--max_steps", "120", "--report_to", "wandb", "--torch_threads", "1"]
    b = ["--max_steps", "120", "--seed", "0", "--report_to", "none"]
    assert settings_key(a) == settings_key(b)
    assert settings_key(a) != settings_key(["--seed", "1", "--max_steps", "120"])
    assert run_dir(a).name == settings_key(a)


def test_runs_without_a_controller_are_shared_across_budgets():
    """A fixed-coefficient peer learns the same at T = 0.4 and 0.6 × base: one run serves both contests."""
    for mode in ("none", "em_floor"):
        fixed = ["--constraint", mode, "--seed", "0"]
        assert settings_key(fixed + ["--budget_ratio", "0.4"]) == settings_key(fixed + ["--budget_ratio", "0.6"])
    controlled = ["--seed", "0"]
    assert settings_key(controlled + ["--budget_ratio", "0.4"]) != settings_key(controlled + ["--budget_ratio", "0.6"])


def test_settings_key_changes_with_the_base_model_source(monkeypatch):
    """Runs trained from another base model (another warm-start data generator) are not reused."""
    from train import runcache

    before = settings_key(["--seed", "0"])
    monkeypatch.setattr(runcache, "base_model_digest", lambda task="arith": "another warm start")
    assert settings_key(["--seed", "0"]) != before


def test_base_model_digest_ignores_docstrings_and_comments():
    from train.runcache import _code_without_docs

    code = 'def f(x):\n    """Why."""\n    return x + 1  # note\n'
    assert _code_without_docs(code) == _code_without_docs(code.replace("Why.", "Because.").replace("note", "n"))
    assert _code_without_docs(code) != _code_without_docs(code.replace("x + 1", "x + 2"))


def test_sweep_arguments_change_one_reward_parameter():
    args = ["--constraint", "none", "--rewards", json.dumps({"exact_match": {"weight": 0.0}, "truncation": {"limit": "{T}"}})]
    filled = fill_target(args, 24.4)
    assert json.loads(filled[-1])["truncation"]["limit"] == 24
    swept = with_coefficient(filled, "limit", 36)
    assert json.loads(swept[-1]) == {"exact_match": {"weight": 0.0}, "truncation": {"limit": 36}}
    assert swept[:2] == ["--constraint", "none"]
    below = fill_target(with_coefficient(args, "limit", "{0.8T}"), 30.0)  # a sweep point under the target
    assert json.loads(below[-1])["truncation"]["limit"] == 24


def test_descent_schedules_end_at_the_contests_budget():
    from train.schedule import parse_schedule

    for name in ("terse_monotone_descent", "terse_global_descent"):
        args = fill_ratio(METHODS[name][1], 0.4)
        ratios = parse_schedule(args[args.index("--budget_schedule") + 1])
        assert ratios == [0.45, 0.4]  # generous first, the contest's T last: the run is judged at T
    assert fill_ratio(["--x", "{R}", "{2R}"], 0.6) == ["--x", "0.6", "1.2"]
    assert fill_ratio(["--rewards", '{"a": {"b": 1}}'], 0.4) == ["--rewards", '{"a": {"b": 1}}']  # JSON untouched


def test_pareto_check_respects_the_seed_spread():
    terse = {"method": "terse", "em": 0.95, "em_spread": 0.02, "tokens": 25.0, "tokens_spread": 1.0}
    rows = [terse,
            {"method": "a", "points": [(0.96, 23.0)]},   # better on both, but within the spread on EM
            {"method": "b", "points": [(0.99, 20.0)]},   # dominates beyond the spread
            {"method": "c", "points": [(1.00, 40.0)]}]   # more accurate but longer
    assert dominated_by(terse, rows) == ["b (EM 0.990, 20.0 tokens)"]


def test_oracle_reach_check_rebuilds_the_problem_from_its_prompt():
    import random

    from launch.research.check_oracle_reach import problem_from_prompt
    from train.tasks import arith

    rng = random.Random(0)
    for n_ops in range(1, arith.MAX_OPS + 1):
        problem = arith.make_problem(rng, n_ops)
        rebuilt = problem_from_prompt(arith.prompt_text(problem))
        assert {k: rebuilt[k] for k in ("start", "ops", "answer", "difficulty")} == \
            {k: problem[k] for k in ("start", "ops", "answer", "difficulty")}


def test_runs_to_land_within_the_budget_counts_the_whole_sweep_or_none():
    from launch.compare import runs_to_budget

    def run(tokens):
        return {"final": {"mean_tokens": tokens, "em": 1.0}}

    assert runs_to_budget([run(40), run(21), run(30)], target=20) == 3  # 21 ≤ 1.05·20: the sweep found one
    assert runs_to_budget([run(40), run(30)], target=20) is None
    assert runs_to_budget([run(19)], target=20) == 1


def test_cached_run_trains_a_run_once_when_two_benchmarks_ask_at_once(tmp_path, monkeypatch):
    """Two contests sharing a run (e.g. EM-only at both budgets) must not train it twice into one folder."""
    import threading
    import time

    from train import runcache

    trained = []

    def fake_training(cmd, **kwargs):
        out = Path(cmd[cmd.index("--output_dir") + 1])
        trained.append(out)
        time.sleep(0.2)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps({"final": {"em": 1.0}}))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(runcache.subprocess, "run", fake_training)
    results = []
    workers = [threading.Thread(target=lambda: results.append(runcache.cached_run("em_only", ["--seed", "0"], tmp_path)))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(trained) == 1 and [r["final"]["em"] for r in results] == [1.0, 1.0]


def test_a_later_tasks_generator_keys_its_own_runs_only(monkeypatch):
    """Adding a task (its generator in TASK_SOURCES) must not invalidate every other task's cached runs."""
    from train import runcache

    graded = ["--config", "configs/benchmark_graded.yaml", "--seed", "0"]
    easy = ["--config", "configs/benchmark_easy.yaml", "--seed", "0"]
    assert runcache.task_of(graded) == "chain_graded" and runcache.task_of(easy) == "chain_easy"
    assert runcache.task_of(easy + ["--task", "arith"]) == "arith"
    before = {"graded": settings_key(graded), "easy": settings_key(easy)}
    monkeypatch.setattr(runcache, "TASK_SOURCES", {"chain_easy": ("train/tasks/chain_easy.py", "train/dual.py")})
    runcache.base_model_digest.cache_clear()
    try:
        assert settings_key(graded) == before["graded"]
        assert settings_key(easy) != before["easy"]
    finally:
        runcache.base_model_digest.cache_clear()


def test_length_profile_counts_cut_answers_and_the_em_they_would_lose():
    from launch.research.length_profile import profile

    tokens, correct = [10, 40, 70, 256], [True, True, False, False]  # the last never ended
    rows = {r["cap"]: r for r in profile(tokens, correct, 256)}
    assert rows[32] == {"cap": 32, "cut": 0.75, "em_within": 0.25}  # 40 would be cut: a correct answer lost
    assert rows[64] == {"cap": 64, "cut": 0.5, "em_within": 0.5}
    assert rows[256]["cut"] == 0.25 and max(rows) == 256  # at the generation cap: the answers that hit it


def test_placeholder_names_exactly_what_the_fillers_fill():
    from launch.compare import PLACEHOLDER

    methods = [args for _, args, _ in METHODS.values()]
    assert any(PLACEHOLDER.search(a) for args in methods for a in args)  # the contest uses both kinds
    for args in methods:
        filled = fill_ratio(fill_target(args, 30.0), 0.4)
        assert not any(PLACEHOLDER.search(a) for a in filled), filled  # every placeholder is filled
    assert [bool(PLACEHOLDER.search(a)) for a in ("{T}", "{0.8T}", "{1.125R}", "{R}", "{x}", "T")] == [True] * 4 + [False] * 2


def test_schedule_bench_refuses_a_method_with_its_own_target_or_schedule(capsys):
    import pytest

    from launch.research.bench_schedule import main

    for method in ("terse_monotone_descent", "truncation"):  # a schedule of its own; a limit of {T}
        with pytest.raises(SystemExit):
            main(["--method", method])
        assert "sets its own target or schedule" in capsys.readouterr().err


def _walk(points, fixed):
    """Stage points as (ratio, target, em, tokens) and fixed runs as ratio → em, in bench_schedule's shapes."""
    return ([{"ratio": r, "target": t, "em": e, "mean_tokens": n} for r, t, e, n in points],
            {r: {"final": {"em": e}} for r, e in fixed.items()})


def test_schedule_clause_needs_four_decreasing_points_inside_and_within():
    from launch.research.bench_schedule import clause

    good = [(0.6, 30, 1.0, 24), (0.45, 22, 0.99, 22), (0.4, 20, 0.95, 21), (0.35, 17, 0.8, 18)]
    points, fixed = _walk(good, {0.6: 1.0, 0.45: 0.98, 0.35: 0.81})
    check = clause(points, fixed)
    assert check["met"] and set(check["diff"]) == {0.6, 0.45, 0.35}
    assert abs(check["diff"][0.45] - 0.01) < 1e-9
    plateau = good[:3] + [(0.35, 17, 0.8, 21)]  # the last stage does not get shorter
    assert not clause(*_walk(plateau, {0.6: 1.0}))["strict"]
    outside = good[:3] + [(0.35, 17, 0.8, 18.8)]  # 18.8 > 1.1 × 17
    assert not clause(*_walk(outside, {0.6: 1.0}))["inside"]
    better = clause(*_walk(good, {0.6: 1.0, 0.35: 0.42}))  # a scheduled point far above its fixed run is not "within"
    assert not better["within"] and not better["met"] and better["strict"]
    assert better["no_worse"] and better["met_no_worse"]  # ... but it is no worse: the one-sided reading holds
    worse = clause(*_walk(good, {0.6: 1.0, 0.35: 0.83}))  # 0.03 below: fails both readings
    assert not worse["within"] and not worse["no_worse"]
    edge = clause(*_walk(good, {0.45: 0.99 + 0.02, 0.4: 0.95 - 0.02}))  # exactly 0.02 either way counts as within
    assert edge["within"] and edge["no_worse"] and edge["met"]
    assert not clause(*_walk(good[:3], {0.6: 1.0}))["strict"]  # three points are not a front of four


def test_schedule_seed_summary_counts_the_seeds_that_meet_the_clause():
    from launch.research.bench_schedule import seeds_summary

    good = [(0.6, 30, 1.0, 24), (0.45, 22, 0.99, 22), (0.4, 20, 0.95, 21), (0.35, 17, 0.8, 18)]
    flat = [(0.6, 30, 1.0, 24), (0.45, 22, 0.99, 22), (0.4, 20, 0.99, 22), (0.35, 17, 0.99, 22)]
    walks = {s: dict(zip(("points", "fixed"), _walk(w, {0.45: 0.98, 0.35: 0.80}))) for s, w in ((0, good), (1, flat))}
    text = seeds_summary(walks)
    assert "all three: 1 of 2" in text and "strictly decreasing over ≥ 4 points: 1 of 2" in text
    assert "all three with that reading: 1 of 2" in text  # flat is better than its fixed run but not decreasing
    row = next(line for line in text.splitlines() if line.startswith("| 0.35"))
    assert "0.800 (18.0), +0.000" in row and "0.990 (22.0), +0.190" in row and "+0.095 [+0.000, +0.190]" in row


def test_schedule_table_shows_the_paired_interval_and_bad_seeds_are_refused(capsys):
    import pytest

    from launch.research.bench_schedule import main, table

    points, fixed = _walk([(0.6, 30, 1.0, 24), (0.45, 22, 0.99, 22)], {0.45: 0.98})
    for p, step in zip(points, (60, 100)):
        p.update(stage=step // 60, step=step)
    fixed[0.45].update(steps=120, final={"em": 0.98, "mean_tokens": 22.5})
    run = {"base": {"em": 1.0, "mean_tokens": 50.4}, "frontier": points, "steps": 100}
    ab = {0.45: {"em_diff": -0.004, "em_ci": [-0.01, 0.0], "tokens_a": 22.3, "tokens_b": 22.4}}
    rows = [line for line in table(run, fixed, None, ab).splitlines() if line.startswith("| ")]
    assert rows[0].endswith("paired on the split: EM [95%], tokens |")
    assert rows[1].endswith("| — |") and "-0.004 [-0.010, +0.000], 22.4 vs 22.3" in rows[2]
    with pytest.raises(SystemExit):
        main(["--seeds", "0,one"])
    assert "--seeds must be comma-separated integers" in capsys.readouterr().err


def test_schedule_table_puts_the_references_at_each_points_own_tokens():
    from launch.research.bench_schedule import references_at, table

    # two kinds of prompt, half each: the easy one loses 0.05 answered in 4 tokens, the hard one needs 20
    curves = {"1": [{"mode": "steps", "mean_tokens": 10, "em": 1.0}, {"mode": "direct", "mean_tokens": 4, "em": 0.95}],
              "2": [{"mode": "steps", "mean_tokens": 20, "em": 1.0}, {"mode": "direct", "mean_tokens": 4, "em": 0.2}]}
    reliability = {"curves": curves, "shares": {"1": 0.5, "2": 0.5}}
    at12 = references_at(reliability, 12.0)  # easy direct + hard worked: (0.95 + 1.0) / 2 at 12 tokens
    assert abs(at12["frontier"] - 0.975) < 1e-9 and abs(at12["monotone"] - 0.975) < 1e-9
    assert abs(at12["uniform"] - 0.6) < 1e-9  # a cap that fits 12 tokens on average answers the hard kind directly
    at8 = references_at(reliability, 8.0)  # the frontier works half the hard prompts (8 of the 16 tokens they need)
    assert abs(at8["frontier"] - (0.575 + 0.5 * 0.5 * 0.8)) < 1e-9
    assert references_at(reliability, 3.0)["frontier"] is None  # below every mode: nothing reachable
    assert references_at(None, 12.0) is None
    points, fixed = _walk([(0.6, 30, 1.0, 12), (0.45, 22, 0.9, 8)], {})
    for p, step in zip(points, (60, 100)):
        p.update(stage=step // 60, step=step)
    run = {"base": {"em": 1.0, "mean_tokens": 15.0}, "frontier": points, "steps": 100}
    rows = [line for line in table(run, fixed, None, None, reliability).splitlines() if line.startswith("| ")]
    assert rows[0].endswith("at its tokens: frontier / monotone / uniform cap |")
    assert rows[1].endswith("| 0.975 / 0.975 / 0.600 |")
    assert "frontier" not in table(run, fixed, None, None, None).splitlines()[2]


def test_schedule_paired_test_is_measured_again_when_its_report_compares_other_models(tmp_path, monkeypatch):
    from launch.research import bench_schedule

    calls = []

    def evaluate(cmd, **kwargs):  # stands in for `python -m train.evaluate A B --out PATH`
        calls.append(cmd)
        a, b, out = cmd[3], cmd[4], cmd[cmd.index("--out") + 1]
        Path(out).write_text(json.dumps({"models": {a: {}, b: {}}, "ab_test": {"greedy": {"em_diff": len(calls)}}}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(bench_schedule.subprocess, "run", evaluate)
    path = tmp_path / "ab" / "test-s0-0.4.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"models": {"fixed": {}, "another-walk/front/step-160": {}},
                                "ab_test": {"greedy": {"em_diff": 0.09}}}))
    assert bench_schedule.paired_ab("fixed", "walk/front/step-140", "test", path) == {"em_diff": 1}  # stale: measured
    assert bench_schedule.paired_ab("fixed", "walk/front/step-140", "test", path) == {"em_diff": 1}  # current: reused
    assert len(calls) == 1


def test_warm_start_repro_orders_its_settings_and_refuses_an_unknown_kernel_set():
    import pytest

    from launch.research.warm_start_repro import KERNELS, settings_to_run

    assert settings_to_run("1,2", "native,avx2") == [(1, "native"), (2, "native"), (1, "avx2"), (2, "avx2")]
    assert KERNELS["avx2"] == {**KERNELS["aten-avx2"], **KERNELS["mkl-avx2"]}  # both libraries held to AVX2
    with pytest.raises(SystemExit, match="avx512"):
        settings_to_run("1", "native,avx512")


def test_a_budget_conditioned_run_is_keyed_by_the_ratio_it_is_served_at():
    """The conditioned run has no controller (--constraint none) but its final figures are served through its
    allocator at --budget_ratio: the contest at 0.4 must not report the run served at 0.45."""
    conditioned = ["--task", "chain_budget", "--constraint", "none", "--seed", "0"]
    assert settings_key(conditioned + ["--budget_ratio", "0.4"]) != settings_key(conditioned + ["--budget_ratio", "0.45"])
    em_only = ["--task", "chain_easy", "--constraint", "none", "--seed", "0"]
    assert settings_key(em_only + ["--budget_ratio", "0.4"]) == settings_key(em_only + ["--budget_ratio", "0.45"])
    general = em_only + ["--budget_conditioned", "true"]  # any task with the option: served at the ratio too
    assert settings_key(general + ["--budget_ratio", "0.4"]) != settings_key(general + ["--budget_ratio", "0.45"])
