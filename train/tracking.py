"""Weights & Biases, such that it can never block or break training.

- No API key (no `WANDB_API_KEY`, no `~/.netrc`) → offline mode, decided before W&B starts: no login
  prompt, no wait. A key but no reachable server (checked with a 3-second TCP connect) → offline too.
- `WANDB_MODE` set by the user always wins.
- The run id is kept in `output_dir/wandb_run_id`, so a resumed run continues the same W&B run.
- Any exception a W&B callback raises mid-run is logged as a warning and training goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

logger = logging.getLogger(__name__)


def server_reachable(url: str, timeout: float = 3.0) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)),
                                 timeout=timeout).close()
        return True
    except (OSError, ValueError):
        return False


def configure_wandb(report_to: list[str] | None, output_dir: str) -> str | None:
    """Set W&B's environment for this run; returns the mode chosen (None when W&B is not used)."""
    if "wandb" not in (report_to or []):
        return None
    os.environ.setdefault("WANDB_DIR", output_dir)
    os.environ.setdefault("WANDB_PROJECT", "terse")
    os.environ.setdefault("WANDB_INIT_TIMEOUT", "30")
    os.makedirs(output_dir, exist_ok=True)
    id_file = Path(output_dir) / "wandb_run_id"
    if "WANDB_RUN_ID" not in os.environ:
        if not id_file.exists():
            id_file.write_text(os.urandom(4).hex())
        os.environ["WANDB_RUN_ID"] = id_file.read_text().strip()
        os.environ.setdefault("WANDB_RESUME", "allow")
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").exists()
    if not has_key:
        reason = "no W&B API key"
    elif not server_reachable(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")):
        reason = "W&B server unreachable"
    else:
        return "online"
    os.environ["WANDB_MODE"] = "offline"
    logger.info("W&B: %s, logging offline (upload later with `wandb sync`)", reason)
    return "offline"


class NeverRaise:
    """Wraps a TrainerCallback: its events log a warning instead of raising."""

    def __init__(self, callback):
        self.callback = callback

    def __getattr__(self, name):
        attr = getattr(self.callback, name)
        if not name.startswith("on_") or not callable(attr):
            return attr

        def safe(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - a logger must not stop training
                logger.warning("W&B callback %s failed (%s: %s); training continues", name, type(err).__name__, err)
                return None

        return safe


def guard_wandb_callbacks(trainer) -> None:
    handler = trainer.callback_handler
    handler.callbacks = [NeverRaise(cb) if type(cb).__name__ == "WandbCallback" else cb for cb in handler.callbacks]


def _live_wandb():
    """The wandb module if this process started a W&B run, else None — without importing wandb, so a run
    with `report_to` excluding W&B never touches it (nor needs it installed)."""
    wandb = sys.modules.get("wandb")
    return wandb if wandb is not None and getattr(wandb, "run", None) is not None else None


def wandb_dir() -> str | None:
    wandb = _live_wandb()
    return os.path.dirname(wandb.run.dir) if wandb is not None else None


def finish_wandb(summary: dict) -> None:
    wandb = _live_wandb()
    if wandb is None:
        return
    try:
        wandb.run.summary.update({"final/em": summary["final"]["em"], "final/mean_tokens": summary["final"]["mean_tokens"]})
        profile = summary.get("step_profile") or {}
        if profile.get("parts"):  # --step_profile: where a step goes, in the run's summary
            wandb.run.summary.update({"profile/step_seconds": profile["step_seconds"],
                                      **{f"profile/{k}_share": v["share"] for k, v in profile["parts"].items()}})
        points = summary.get("frontier") or []
        if points:  # a budget schedule's front: a table and a plot in the run
            columns = ["step", "target", "mean_tokens", "em", "lambda"]
            table = wandb.Table(columns=columns, data=[[p[c] for c in columns] for p in points])
            wandb.log({"frontier/table": table,
                       "frontier/plot": wandb.plot.line(table, "mean_tokens", "em", title="accuracy–length front")})
        wandb.finish()
    except Exception as err:  # noqa: BLE001 - W&B must never take a finished run down with it
        logger.warning("W&B finish failed: %s", err)
