"""A stateful reward's memory (LASER-D's windows) travels with the trainer's checkpoints."""

from types import SimpleNamespace

from rewards.peers import LaserDState
from train.dual import DualController, DualSettings
from train.files import COMPLETE_MARKER
from train.target import TokenTarget
from train.trainer import REWARD_STATE_FILE, DualControlMixin, DualWiring


class _NoTRL:
    """The few trainer hooks the mixin extends, without TRL."""

    def __init__(self, *args, **kwargs):
        self.reward_weights = [1.0]

    def _save_checkpoint(self, model, trial):
        pass

    def _load_optimizer_and_scheduler(self, checkpoint):
        pass

    def _get_output_dir(self, trial):
        return self.out


class _Trainer(DualControlMixin, _NoTRL):
    pass


def _trainer(out, state):
    wiring = DualWiring(DualController(DualSettings(mode="budget", target=10.0)),
                        TokenTarget(tokens=10.0, base_tokens=20.0), dual_index=None, em_index=0)
    trainer = _Trainer(dual=wiring, reward_states={"laser_d": state})
    trainer.out, trainer.args, trainer.state = str(out), SimpleNamespace(should_save=True), SimpleNamespace(global_step=3)
    return trainer


def test_reward_state_is_saved_with_the_checkpoint_and_restored_on_resume(tmp_path):
    state = LaserDState(window=8)
    state.add("easy", [12, 30], [True, False])
    (tmp_path / "checkpoint-3").mkdir()
    _trainer(tmp_path, state)._save_checkpoint(None, None)
    folder = tmp_path / "checkpoint-3"
    assert (folder / REWARD_STATE_FILE.format("laser_d")).exists() and (folder / COMPLETE_MARKER).exists()

    fresh = LaserDState()
    _trainer(tmp_path, fresh)._load_optimizer_and_scheduler(str(folder))
    assert fresh.window == 8 and list(fresh.history["easy"]) == [(12, True), (30, False)]
