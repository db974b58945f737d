"""Exact values for the laws the tool exists to hold, so that a planted bug fails a test (mutation testing,
`python -m launch.research.mutation`): λ's PI law, the budget penalty, the trainer's −λ weight and dual step, and
every validation path of the recipe."""

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from rewards.budget_penalty import budget_penalty
from rewards.exact_match import extract_answer, is_correct
from rewards.token_penalty import token_penalty
from train.config import ScriptArguments
from train.dual import DualController, DualSettings
from train.target import TokenTarget
from train.trainer import FLOOR_LEVEL, DualControlMixin


# -- the PI law, value by value ----------------------------------------------------------------------------
def test_lambda_after_two_updates_with_kp():
    """ĝ = 20 → e = 1, I = 0.1, λ = 0.5·1 + 0.1 = 0.6; ĝ = 0.5·20 + 0.5·10 = 15 → e = 0.5, I = 0.15,
    λ = 0.25 + 0.15 = 0.4. Dropping or doubling k_p, or using the raw measurement, changes both."""
    c = DualController(DualSettings(mode="budget", target=10.0, lr=0.1, kp=0.5, ema=0.5, lambda_max=1.0))
    assert c.update(20.0) == pytest.approx(0.6)
    assert (c.smoothed, c.error, c.integral) == pytest.approx((20.0, 1.0, 0.1))
    assert c.update(10.0) == pytest.approx(0.4)
    assert (c.smoothed, c.error, c.integral) == pytest.approx((15.0, 0.5, 0.15))
    assert c.updates == 2


def test_em_floor_law_values():
    c = DualController(DualSettings(mode="em_floor", target=0.8, lr=0.1, kp=0.2, ema=0.0, em_scale=0.05,
                                    lambda_max=1.0))
    assert c.update(0.9) == pytest.approx(0.6)  # e = 2: I = 0.2, λ = 0.4 + 0.2
    assert c.update(0.75) == pytest.approx(0.0)  # e = −1: I = 0.1, λ = max(0, −0.2 + 0.1)
    assert c.integral == pytest.approx(0.1)


def test_proportional_term_is_clipped_at_lambda_max_but_integral_is_not_wound():
    c = DualController(DualSettings(mode="budget", target=10.0, lr=0.1, kp=2.0, ema=0.0, lambda_max=0.5))
    assert c.update(20.0) == pytest.approx(0.5)  # 2·1 + 0.1 clipped
    assert c.integral == pytest.approx(0.1)


def test_warmup_smooths_but_holds_lambda_then_moves():
    c = DualController(DualSettings(mode="budget", target=10.0, lr=0.1, kp=0.0, ema=0.5, warmup_steps=1,
                                    lambda_init=0.2, lambda_max=1.0))
    assert c.update(30.0) == pytest.approx(0.2) and c.smoothed == pytest.approx(30.0)
    assert c.update(10.0) == pytest.approx(0.2 + 0.1 * 1.0)  # ĝ = 20, e = 1


def test_metrics_and_state_name_the_values():
    c = DualController(DualSettings(mode="budget", target=10.0, lr=0.1, kp=0.0, ema=0.0))
    c.update(15.0)
    assert c.metrics() == pytest.approx({"dual/lambda": 0.05, "dual/constraint": 15.0, "dual/target": 10.0,
                                         "dual/violation": 0.5})
    fresh = DualController(c.settings)
    fresh.load_state_dict(c.state_dict())
    assert fresh.update(15.0) == c.update(15.0)


# -- the budget penalty ----------------------------------------------------------------------------------
def test_unequal_per_prompt_budgets():
    got = budget_penalty(["#### 1"] * 3, [[0] * 20] * 3, answer=["1"] * 3, budget_tokens=99.0,
                         token_budget=[10.0, 20.0, 5.0])
    assert got == pytest.approx([1.0, 0.0, 2.0])  # 20/10 − 1, 20/20 − 1, min(2, 20/5 − 1)


def test_budget_penalty_correct_only_false_charges_wrong_answers():
    completions, ids = ["#### 1", "#### 2"], [[0] * 30, [0] * 15]
    assert budget_penalty(completions, ids, answer=["1", "1"], budget_tokens=10.0) == pytest.approx([2.0, 0.0])
    assert budget_penalty(completions, ids, answer=["1", "1"], budget_tokens=10.0, correct_only=False,
                          cap=5.0) == pytest.approx([2.0, 0.5])


def test_budget_penalty_under_budget_is_zero_and_cap_applies():
    got = budget_penalty(["#### 1"] * 3, [[0] * 5, [0] * 10, [0] * 100], answer=["1"] * 3, budget_tokens=10.0, cap=1.5)
    assert got == pytest.approx([0.0, 0.0, 1.5])
    with pytest.raises(ValueError, match="budgets > 0"):
        budget_penalty(["#### 1"], [[0]], answer=["1"], budget_tokens=10.0, token_budget=[0.0])


def test_token_penalty_values():
    got = token_penalty(["#### 1", "#### 2"], [[0] * 15, [0] * 15], answer=["1", "1"], budget_tokens=10.0,
                        correct_only=False, cap=1.2)
    assert got == pytest.approx([1.2, 1.2])
    assert token_penalty(["#### 1"], [[0] * 5], answer=["1"], budget_tokens=10.0) == pytest.approx([0.5])


# -- the numeric check's marker rule ---------------------------------------------------------------------
@pytest.mark.parametrize("completion, answer", [
    ("The answer is 12, then 15 more are added for the next part.", "12"),
    ("Answer: 7 (checked: 3 + 4 = 7, and 2 more)", "7"),
    ("A: 5 apples, not 6", "5"),
    ("the final answer is 3 of 10", "3"),
    ("#### 4 and 5 \\boxed{6}", "4"),          # #### before \boxed
    ("\\boxed{6} then The answer is 9", "6"),  # \boxed before the phrase
])
def test_marker_followed_by_more_numbers(completion, answer):
    assert extract_answer(completion) == answer
    assert is_correct(completion, answer)


# -- the trainer: −λ on the controlled reward, and its dual step -------------------------------------------
class FakeTrainer:
    """The mixin's dual-step methods on a plain object (no TRL trainer, no model)."""

    _apply_lambda = DualControlMixin._apply_lambda
    _dual_step = DualControlMixin._dual_step
    _budget_level = DualControlMixin._budget_level

    def __init__(self, mode="budget", target=10.0, measure="sampled", greedy=None):
        self.controller = DualController(DualSettings(mode=mode, target=target, lr=0.1, kp=0.5, ema=0.5,
                                                      lambda_max=1.0, lambda_init=0.3))
        self.reward_weights = [1.0, 0.0]
        self.dual_index, self.measure, self.trace = 1, measure, True
        self._dual_window = torch.zeros(4, dtype=torch.float64)
        self._tokens_ema = None
        self._metrics = {"train": defaultdict(list)}
        self._greedy = greedy
        self.budget_model = SimpleNamespace(fallback=40.0)
        self.token_target = TokenTarget(tokens=target, base_tokens=60.0, penalties_follow=mode == "budget")
        self._apply_lambda()

    def _trace_rank_state(self):
        pass

    def _greedy_tokens(self):
        return self._greedy


def test_the_controlled_reward_is_weighted_minus_lambda():
    t = FakeTrainer()
    assert t.reward_weights == [1.0, -0.3]
    t._dual_window += torch.tensor([200.0, 6.0, 10.0, 10.0])  # mean 20 tokens, EM 0.6
    t._dual_step()
    assert t.controller.lam == pytest.approx(0.5 * 1.0 + 0.3 + 0.1)
    assert t.reward_weights == pytest.approx([1.0, -0.9])
    assert t._dual_window.tolist() == [0.0, 0.0, 0.0, 0.0]  # the window restarts every optimizer step
    m = t._metrics["train"]
    assert m["dual/batch_tokens"] == [20.0] and m["dual/batch_em"] == [0.6] and m["dual/lambda"] == pytest.approx([0.9])


def test_em_floor_dual_step_measures_em_and_its_budget_level_follows_tokens():
    t = FakeTrainer(mode="em_floor", target=0.5)
    t._dual_window += torch.tensor([200.0, 6.0, 10.0, 10.0])
    t._dual_step()
    assert t.controller.smoothed == pytest.approx(0.6)  # EM, not tokens
    assert t.controller.error == pytest.approx((0.6 - 0.5) / 0.05)
    assert t._budget_level() == pytest.approx(FLOOR_LEVEL * 20.0)
    t._dual_window += torch.tensor([100.0, 5.0, 10.0, 10.0])
    t._dual_step()
    assert t._tokens_ema == pytest.approx(0.5 * 20.0 + 0.5 * 10.0)
    assert FakeTrainer(mode="em_floor", target=0.5)._budget_level() == pytest.approx(FLOOR_LEVEL * 40.0)


def test_sampled_and_greedy_measures():
    sampled = FakeTrainer(measure="sampled", greedy=99.0)
    sampled._dual_window += torch.tensor([150.0, 5.0, 10.0, 10.0])
    sampled._dual_step()
    assert sampled.controller.smoothed == pytest.approx(15.0)  # the sampled mean; greedy is not asked
    greedy = FakeTrainer(measure="greedy", greedy=12.0)
    greedy._dual_window += torch.tensor([150.0, 5.0, 10.0, 10.0])
    greedy._dual_step()
    assert greedy.controller.smoothed == pytest.approx(12.0) and greedy._metrics["train"]["dual/greedy_tokens"] == [12.0]
    t = FakeTrainer()
    assert t._budget_level() == 10.0  # budget mode: the learned budgets share T
    t.retarget = DualControlMixin.retarget.__get__(t)
    t.retarget(7.0)  # a schedule's next stage: one move, read by the budgets and the controller
    assert t._budget_level() == 7.0 and t.controller.settings.target == 7.0 and t.token_target.penalty_unit == 7.0
    floor = FakeTrainer(mode="em_floor", target=0.5)
    DualControlMixin.retarget(floor, 20.0)
    assert floor.controller.settings.target == 0.5  # an EM floor is not a token target


def test_an_empty_window_leaves_lambda():
    t = FakeTrainer()
    t._dual_step()
    assert t.controller.lam == pytest.approx(0.3) and "dual/batch_tokens" not in t._metrics["train"]


# -- every validation path of the recipe ------------------------------------------------------------------
OK = {"budget_ratio": 0.5}


@pytest.mark.parametrize("kw, message", [
    ({"algorithm": "ppo"}, "algorithm must be 'grpo' or 'rloo', got 'ppo'"),
    ({"constraint": "tokens"}, "constraint must be one of"),
    ({"budget_ratio": None}, "constraint 'budget' needs exactly one of budget_tokens and budget_ratio"),
    ({"budget_tokens": 30.0}, "constraint 'budget' needs exactly one of budget_tokens and budget_ratio"),
    ({"budget_tokens": 30.0, "budget_schedule": "0.8,0.6"}, "constraint 'budget' needs exactly one of"),
    ({"budget_ratio": None, "budget_tokens": 0.0}, "budget_tokens must be > 0, got 0.0"),
    ({"constraint": "em_floor", "em_tolerance": 1.5}, "em_tolerance must lie in [0, 1], got 1.5"),
    ({"rewards": {"exact_match": {}, "budget_penalty": {"weight": "dual"}}, "lambda_max": 0.5},
     "lambda_max * rewards.budget_penalty.cap = 1 must be < 1"),  # correct_only and cap 2 by default
    ({"budget_ratio": None, "budget_tokens": -5.0}, "budget_tokens must be > 0, got -5.0"),
    ({"budget_ratio": 1.5}, "budget_ratio must lie in (0, 1], got 1.5"),
    ({"budget_ratio": 0.0}, "budget_ratio must lie in (0, 1], got 0.0"),
    ({"constraint": "em_floor"}, "constraint 'em_floor' needs exactly one of em_floor and em_tolerance"),
    ({"constraint": "em_floor", "em_floor": 0.9, "em_tolerance": 0.1}, "constraint 'em_floor' needs exactly one of em_floor and em_tolerance"),
    ({"constraint": "em_floor", "em_floor": 1.2}, "em_floor must lie in [0, 1], got 1.2"),
    ({"constraint": "em_floor", "em_tolerance": -0.1}, "em_tolerance must lie in [0, 1], got -0.1"),
    ({"constraint": "em_floor", "em_floor": 0.5, "budget_schedule": "0.8,0.6"}, "budget_schedule moves a token budget"),
    ({"dual_measure": "argmax"}, "dual_measure must be one of"),
    ({"constraint": "em_floor", "em_floor": 0.5, "dual_measure": "greedy"}, "dual_measure greedy measures served lengths"),
    ({"warm_start_steps": 0}, "warm_start_steps must be >= 1, got 0"),
    ({"warm_start_learning_rate": 0.0}, "warm_start_learning_rate must be > 0"),
    ({"warm_start_batch_size": 0}, "warm_start_batch_size must be >= 1"),
    ({"lr_guard": True}, "lr_guard needs eval_every > 0"),
    ({"lr_guard_factor": 1.0}, "lr_guard_factor must lie in (0, 1), got 1.0"),
    ({"lr_guard_factor": 0.0}, "lr_guard_factor must lie in (0, 1), got 0.0"),
    ({"dual_em_scale": 0.0}, "dual_em_scale must be > 0"),
    ({"selection_tolerance": -0.1}, "selection_tolerance must be >= 0"),
    ({"early_stopping_patience": -1}, "early_stopping_patience must be >= 0"),
    ({"early_stopping_patience": 2}, "early_stopping_patience needs eval_every > 0"),
    ({"early_stopping_adaptive": True, "eval_every": 10}, "early_stopping_adaptive adapts early_stopping_patience"),
    ({"early_stopping_max_patience": -1}, "early_stopping_max_patience must be >= 0"),
    ({"lora_plus_ratio": 0.0}, "lora_plus_ratio must be > 0"),
    ({"allocator_cv_folds": 1}, "allocator_cv_folds must be 0 (off) or >= 2"),
    ({"layer_lr_decay": 1.5}, "layer_lr_decay must lie in (0, 1]"),
    ({"layer_lr_decay": 0.0}, "layer_lr_decay must lie in (0, 1]"),
    ({"budget_allocation": "greedy"}, "budget_allocation must be one of"),
    ({"budget_kind_split": 0}, "budget_kind_split must be >= 1, got 0"),
    ({"budget_kind_split": 2}, "budget_kind_split > 1 splits the knapsack's kinds"),
    ({"budget_reliable_accuracy": 0.0}, "budget_reliable_accuracy must lie in (0, 1]"),
    ({"budget_reliable_accuracy": 1.1}, "budget_reliable_accuracy must lie in (0, 1]"),
    ({"budget_quantile": 1.5}, "budget_quantile must lie in [0, 1]"),
    ({"budget_quantile": -0.5}, "budget_quantile must lie in [0, 1]"),
    ({"rewards": {"exact_matsh": {}}}, "unknown reward 'exact_matsh'"),
    ({"lambda_max": 0.5}, "lambda_max * rewards.budget_penalty.cap = 1 must be < 1"),
    ({"answer_check": "nope"}, "unknown answer_check 'nope'"),
    ({"answer_check": "text"}, "answer_check 'text' needs your own data"),
    ({"allocator_feature": "words"}, "allocator_feature must be auto, length, column or text, got 'words'"),
    ({"allocator_feature": "column"}, "allocator_feature column needs allocator_feature_column"),
    ({"allocator_cv_folds": -1}, "allocator_cv_folds must be 0 (off) or >= 2, got -1"),
    ({"budget_conditioned": True, "budget_prompt_template": "no budget here"}, "budget_prompt_template"),
    ({"budget_conditioned": True, "budget_grid": "8,x"}, "budget_grid"),
    ({"budget_conditioned": True, "adherence_target": 0.0}, "adherence_target must lie in (0, 1], got 0.0"),
    ({"budget_conditioned": True, "adherence_target": 1.5}, "adherence_target must lie in (0, 1], got 1.5"),
    ({"budget_conditioned": True, "overshoot_price": -1.0}, "overshoot_price must be >= 0"),
    ({"budget_conditioned": True, "distill_rows": 0}, "distill_rows, distill_samples and distill_steps must be >= 1"),
    ({"budget_conditioned": True, "distill_samples": 0}, "distill_rows, distill_samples and distill_steps must be >= 1"),
    ({"budget_conditioned": True, "distill_steps": 0}, "distill_rows, distill_samples and distill_steps must be >= 1"),
    ({"budget_conditioned": True, "budget_grid_points": 1}, "distill_rows, distill_samples and distill_steps must be"),
    ({"budget_conditioned": True, "learned_budget": True}, "budget_conditioned states each prompt's budget itself: "
     "turn off learned_budget and budget_schedule"),
    ({"budget_conditioned": True, "budget_unit": 0}, "budget_unit"),
    ({"budget_conditioned": True, "budget_schedule": "0.8,0.6", "budget_ratio": None},
     "budget_conditioned states each prompt's budget itself"),
])
def test_config_validation_names_the_problem(kw, message):
    with pytest.raises(ValueError) as err:
        ScriptArguments(**{**OK, **kw})
    assert str(err.value).startswith(message) or message.startswith(("unknown", "lambda_max")) and message in str(err.value)


@pytest.mark.parametrize("kw", [
    {"budget_ratio": 1.0}, {"budget_ratio": None, "budget_tokens": 0.5}, {"constraint": "em_floor", "em_floor": 0.0},
    {"constraint": "em_floor", "em_floor": 1.0}, {"constraint": "em_floor", "em_tolerance": 0.0},
    {"constraint": "none", "budget_ratio": None}, {"lambda_max": 0.49}, {"budget_quantile": 0.0},
    {"budget_reliable_accuracy": 1.0}, {"budget_kind_split": 2, "budget_allocation": "knapsack"},
    {"selection_tolerance": 0.0}, {"early_stopping_patience": 2, "eval_every": 10},
    {"early_stopping_patience": 2, "eval_every": 10, "early_stopping_adaptive": True, "early_stopping_max_patience": 6},
    {"rewards": {"exact_match": {}, "budget_penalty": {"weight": "dual", "correct_only": False, "cap": 5.0}}},
    {"answer_check": "text", "dataset_name": "x.csv"}, {"algorithm": "rloo"},
    {"constraint": "em_floor", "em_tolerance": 1.0}, {"warm_start_steps": 1}, {"warm_start_learning_rate": 0.5},
    {"warm_start_batch_size": 1}, {"budget_quantile": 1.0},
    {"rewards": {"exact_match": {}, "budget_penalty": {"weight": "dual"}}, "lambda_max": 0.45},
    {"rewards": {"exact_match": {}, "budget_penalty": {"weight": "dual", "cap": 1.0}}, "lambda_max": 0.8},
    {"allocator_feature": "column", "allocator_feature_column": "source"}, {"allocator_cv_folds": 2},
    {"budget_conditioned": True, "adherence_target": 1.0, "overshoot_price": 0.0, "budget_grid_points": 2,
     "distill_rows": 1, "distill_samples": 1, "distill_steps": 1, "lambda_max": 3.0},
    {"budget_conditioned": True, "budget_grid": [4, 8, 16]}, {"allocator_feature": "length"},
    {"allocator_feature": "text"}, {"budget_conditioned": True, "budget_unit": 8},
])
def test_config_accepts_the_edges(kw):
    ScriptArguments(**{**OK, **kw})


def test_a_yaml_list_grid_becomes_the_flag_form():
    assert ScriptArguments(**{**OK, "budget_conditioned": True, "budget_grid": [4, 8, 16]}).budget_grid == "4,8,16"
    assert ScriptArguments(**{**OK, "budget_grid": [4, 8]}).budget_grid == [4, 8]  # untouched unless conditioned


def test_auto_schedule_sets_its_floor():
    s = ScriptArguments(budget_schedule="auto")
    assert s.em_tolerance == 0.02
    assert ScriptArguments(budget_schedule=[0.8, 0.6]).budget_schedule == "0.8,0.6"
    assert ScriptArguments(budget_schedule="0.8,0.6").em_tolerance is None
    assert ScriptArguments(budget_schedule="0.8,0.6", budget_stage_steps=30).budget_stage_steps == "30"


# -- edges the mutation run found untested -----------------------------------------------------------------
@pytest.mark.parametrize("kw, message", [
    ({"mode": "tokens"}, "constraint must be one of"),
    ({"target": 0.0}, "the token budget must be > 0, got 0.0"),
    ({"mode": "em_floor", "target": 1.5}, "em_floor must lie in [0, 1], got 1.5"),
    ({"ema": 1.0}, "dual_ema must lie in [0, 1), got 1.0"),
    ({"lambda_init": 2.0, "lambda_max": 1.0}, "need 0 <= lambda_init <= lambda_max, got 2.0 and 1.0"),
    ({"kp": -1.0}, "dual_lr and dual_kp must be >= 0"),
    ({"lr": -1.0}, "dual_lr and dual_kp must be >= 0"),
    ({"em_scale": -1.0}, "em_scale must be > 0"),
])
def test_dual_settings_messages(kw, message):
    with pytest.raises(ValueError) as err:
        DualSettings(**{"mode": "budget", "target": 10.0, **kw})
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("kw", [{"target": 0.5}, {"mode": "em_floor", "target": 0.0}, {"mode": "em_floor", "target": 1.0},
                                {"lambda_init": 1.0, "lambda_max": 1.0}, {"lr": 0.0, "kp": 0.0}])
def test_dual_settings_edges_accepted(kw):
    DualSettings(**{"mode": "budget", "target": 10.0, **kw})


def test_fresh_controller_reports_no_violation_and_none_mode_does_not_measure():
    c = DualController(DualSettings(mode="budget", target=10.0))
    m = c.metrics()
    assert m["dual/violation"] == 0.0 and m["dual/constraint"] != m["dual/constraint"]  # nan
    assert c.state_dict()["settings"] == {**c.settings.__dict__}
    none = DualController(DualSettings(mode="none", target=0.0, lambda_init=0.2))
    assert none.update(99.0) == 0.2 and none.smoothed is None and none.updates == 0


def test_a_bad_measurement_is_logged_with_its_value(caplog):
    c = DualController(DualSettings(mode="budget", target=10.0, lambda_init=0.25))
    assert c.update(float("inf")) == 0.25
    assert caplog.records[-1].getMessage() == "dual controller: measurement is inf; λ stays at 0.25"


def test_penalty_budget_edges():
    assert budget_penalty(["#### 1"], [[0]], answer=["1"], budget_tokens=0.5) == pytest.approx([1.0])
    assert token_penalty(["#### 1"], [[0] * 3], answer=["1"], budget_tokens=0.5) == pytest.approx([2.0])
    assert budget_penalty(["#### 1"], [[0] * 100], answer=["1"], budget_tokens=10.0) == pytest.approx([2.0])  # cap 2
    assert token_penalty(["#### 1"], [[0] * 100], answer=["1"], budget_tokens=10.0) == pytest.approx([2.0])
    with pytest.raises(ValueError, match="budgets > 0, got -1"):
        budget_penalty(["#### 1"], [[0]], answer=["1"], budget_tokens=10.0, token_budget=[-1.0])
    with pytest.raises(ValueError, match="budget_tokens > 0, got 0"):
        token_penalty(["#### 1"], [[0]], answer=["1"], budget_tokens=0)
    for penalty in (budget_penalty, token_penalty):
        for correct_only in (True, False):  # one completion per answer, never silently truncated
            with pytest.raises(ValueError):
                penalty(["#### 1", "#### 1"], [[0], [0]], answer=["1"], budget_tokens=10.0, correct_only=correct_only)


def test_a_half_score_counts_as_correct_for_the_penalties(tmp_path, monkeypatch):
    (tmp_path / "halfcheck.py").write_text("def half(completion, gold):\n    return 0.5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kw = {"answer": ["1"], "budget_tokens": 10.0, "answer_check": ["halfcheck:half"]}
    assert budget_penalty(["x"], [[0] * 20], **kw) == pytest.approx([1.0])
    assert token_penalty(["x"], [[0] * 20], **kw) == pytest.approx([2.0])


@pytest.mark.parametrize("text, value", [("- 5", -5), ("18.", 18), ("-€4", -4), ("-£4", -4), ("+$4", 4), ("+€4", 4),
                                         ("+£4", 4), ("$-4", -4), ("+7", 7), ("1" * 100, int("1" * 100))])
def test_normalize_number_forms(text, value):
    from rewards.exact_match import normalize_number

    assert normalize_number(text) == value


@pytest.mark.parametrize("text", ["1" * 101, "Infinity", "NaN", "", ".", "7+"])
def test_normalize_number_rejects(text):
    from rewards.exact_match import normalize_number

    assert normalize_number(text) is None


def test_completion_text_of_odd_messages():
    from rewards.exact_match import completion_text

    assert completion_text([{"role": "assistant"}]) == "" and completion_text(7) == ""


# -- checkpoint selection and settling (train/selection.py), value by value --------------------------------
def test_selection_keys_exact():
    from train.selection import SelectionRule

    budget = SelectionRule("budget", 20.0, tolerance=0.05)
    assert budget.feasible({"mean_tokens": 21.0}) and not budget.feasible({"mean_tokens": 21.01})
    assert budget.key({"em": 0.9, "mean_tokens": 30.0, "step": 40}) == pytest.approx((0, -0.5, 0.0, -40))
    assert budget.key({"em": 0.9, "mean_tokens": 18.0, "step": 40}) == (1, 0.9, -18.0, -40)
    floor = SelectionRule("em_floor", 0.8)
    assert floor.key({"em": 0.7, "mean_tokens": 10.0, "step": 8}) == pytest.approx((0, -0.1, 0.0, -8))
    assert floor.key({"em": 0.85, "mean_tokens": 10.0, "step": 8}) == (1, -10.0, 0.85, -8)
    assert SelectionRule("none", 0.0).key({"em": 0.5, "mean_tokens": 3.0, "step": 2}) == (1, 0.5, -3.0, -2)
    assert not SelectionRule("em_floor", 0.8).feasible({"em": 0.79, "mean_tokens": 1.0})
    assert SelectionRule("none", 0.0).feasible({"em": 0.0, "mean_tokens": 1e9})


def test_selection_prefers_earlier_on_ties_and_infeasible_by_how_far():
    from train.selection import SelectionRule, select

    rule = SelectionRule("budget", 20.0)
    tied = [{"em": 0.9, "mean_tokens": 18.0, "step": s} for s in (40, 80)]
    assert select(tied, rule)["step"] == 40
    over = [{"em": 1.0, "mean_tokens": 40.0, "step": 40}, {"em": 0.5, "mean_tokens": 25.0, "step": 80}]
    assert select(over, rule)["step"] == 80  # nearer the budget wins among infeasible ones
    assert select(over + [{"em": 0.1, "mean_tokens": 5.0, "step": 120}], rule)["step"] == 120
    floor = SelectionRule("em_floor", 0.8)
    below = [{"em": 0.6, "mean_tokens": 5.0, "step": 1}, {"em": 0.75, "mean_tokens": 50.0, "step": 2}]
    assert select(below, floor)["step"] == 2
    assert select([{"em": 0.9, "mean_tokens": 5.0, "step": s} for s in (3, 1)], floor)["step"] == 1
    assert select([], rule) is None


def rec(em, tokens, lam=0.1):
    return {"em": em, "mean_tokens": tokens, "lambda": lam}


def test_settled_thresholds_exact():
    from train.selection import settled

    flat = [rec(0.9, 20.0)] * 3
    assert settled(flat, 2) and not settled(flat, 3) and not settled(flat, 0)
    assert settled([rec(0.0, 1.0)] + [rec(0.9, 20.0)] * 2, 1)  # only the last `patience` steps count
    assert not settled([rec(0.0, 1.0)] + [rec(0.9, 20.0)] * 2, 2)
    assert settled([rec(0.5, 20.0, 0.25), rec(0.75, 30.0, 0.5)], 1, em_tol=0.25, tokens_tol=0.5, lambda_tol=0.25)  # at the tolerances
    assert not settled([{"em": 0.9, "mean_tokens": 20.0, "lambda": 1.0}, {"em": 0.9, "mean_tokens": 20.0}], 1)
    assert not settled([rec(0.5, 20.0), rec(0.75, 30.0, 0.35)], 1, em_tol=0.125, tokens_tol=0.5, lambda_tol=0.25)
    assert not settled([rec(0.5, 20.0), rec(0.75, 30.0, 0.35)], 1, em_tol=0.25, tokens_tol=0.25, lambda_tol=0.25)
    assert not settled([rec(0.5, 20.0), rec(0.75, 30.0, 0.35)], 1, em_tol=0.25, tokens_tol=0.5, lambda_tol=0.125)
    assert settled([rec(0.900, 20.0), rec(0.905, 20.4)], 1)           # the defaults: 0.01 EM, 3% tokens, 0.02 λ
    assert not settled([rec(0.90, 20.0), rec(0.92, 20.0)], 1)
    assert not settled([rec(0.90, 20.0), rec(0.90, 20.8)], 1)
    assert not settled([rec(0.9, 20.0, 0.10), rec(0.9, 20.0, 0.13)], 1)
    assert settled([{"em": 0.9, "mean_tokens": 20.0}, {"em": 0.9, "mean_tokens": 20.0, "lambda": 0.01}], 1)
    assert not settled([{"em": 0.9, "mean_tokens": 20.0}, {"em": 0.9, "mean_tokens": 20.0, "lambda": 0.03}], 1)
    assert not settled([{"em": 0.9, "mean_tokens": 20.0, "lambda": 0.03}, {"em": 0.9, "mean_tokens": 20.0}], 1)
    assert settled([rec(0.9, 0.5), rec(0.9, 0.505)], 1)  # relative to the tokens before, also below one token


def test_recipe_mappings_and_full_messages():
    from train.config_groups import JSONMapping

    assert JSONMapping('{"exact_match": {}}') == {"exact_match": {}}
    with pytest.raises(ValueError, match=r"^expected a mapping, got \[1\]$"):
        JSONMapping("[1]")
    with pytest.raises(ValueError, match=r"^rewards must be a mapping of reward name to parameters, got \[1\]$"):
        ScriptArguments(budget_ratio=0.5, rewards=[1])
    with pytest.raises(ValueError) as err:
        ScriptArguments(constraint="em_floor", em_floor=0.5, dual_measure="greedy")
    assert str(err.value).endswith("measures EM (use constraint budget, or dual_measure sampled)")
    with pytest.raises(ValueError) as err:
        ScriptArguments(budget_ratio=0.5, lambda_max=0.5)
    assert str(err.value).endswith("or a long correct answer could score no better than a wrong one")


def test_the_per_rank_trace_is_written_only_when_on():
    written = []
    for on in (True, False):
        fake = FakeTrainer()
        fake.trace, fake._trace_rank_state = on, (lambda on=on: written.append(on))
        fake._dual_window = torch.tensor([40.0, 2.0, 4.0, 0.0], dtype=torch.float64)
        fake._dual_step()
    assert written == [True]
