import time

import pytest

from train.tracking import NeverRaise, configure_wandb


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR", "WANDB_BASE_URL", "WANDB_RUN_ID", "WANDB_RESUME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    return monkeypatch


def test_no_key_goes_offline(clean_env, tmp_path):
    assert configure_wandb(["wandb"], str(tmp_path / "run")) == "offline"
    import os

    assert os.environ["WANDB_MODE"] == "offline"


def test_key_but_unreachable_server_goes_offline_quickly(clean_env, tmp_path):
    clean_env.setenv("WANDB_API_KEY", "x" * 40)
    clean_env.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.time()
    assert configure_wandb(["wandb"], str(tmp_path / "run")) == "offline"
    assert time.time() - started < 5


def test_user_mode_wins_and_no_wandb_means_none(clean_env, tmp_path):
    clean_env.setenv("WANDB_MODE", "disabled")
    assert configure_wandb(["wandb"], str(tmp_path)) == "disabled"
    assert configure_wandb(["none"], str(tmp_path)) is None


def test_callback_failures_do_not_raise(caplog):
    class Broken:
        name = "broken"

        def on_log(self, *args, **kwargs):
            raise ConnectionError("server went away")

    wrapped = NeverRaise(Broken())
    assert wrapped.on_log(None, None, None) is None
    assert wrapped.name == "broken"
    assert "server went away" in caplog.text


def test_resumed_run_keeps_its_wandb_run_id(clean_env, tmp_path):
    import os

    configure_wandb(["wandb"], str(tmp_path / "run"))
    first = os.environ.pop("WANDB_RUN_ID")
    configure_wandb(["wandb"], str(tmp_path / "run"))
    assert os.environ["WANDB_RUN_ID"] == first == (tmp_path / "run" / "wandb_run_id").read_text()


def test_runs_without_wandb_never_import_it(monkeypatch, caplog):
    """`report_to` without W&B: finishing the run neither imports wandb nor warns (it need not be installed)."""
    import sys

    from train.tracking import finish_wandb, wandb_dir

    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` would now raise ImportError
    with caplog.at_level("WARNING"):
        finish_wandb({"final": {"em": 1.0, "mean_tokens": 3.0}})
    assert wandb_dir() is None
    assert "W&B" not in caplog.text



def test_finish_puts_the_step_profile_in_the_wandb_summary(monkeypatch):
    from types import SimpleNamespace

    from train import tracking

    finished = []
    fake = SimpleNamespace(run=SimpleNamespace(summary={}), finish=lambda: finished.append(True))
    monkeypatch.setattr(tracking, "_live_wandb", lambda: fake)
    profile = {"step_seconds": 2.0, "parts": {"generation": {"seconds": 1.5, "share": 0.75},
                                              "backward": {"seconds": 0.5, "share": 0.25}}}
    tracking.finish_wandb({"final": {"em": 1.0, "mean_tokens": 3.0}, "step_profile": profile})
    assert fake.run.summary["profile/generation_share"] == 0.75 and fake.run.summary["profile/step_seconds"] == 2.0
    assert fake.run.summary["final/em"] == 1.0 and finished == [True]
