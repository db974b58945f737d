"""Terse inside a LiteLLM proxy: a `CustomLogger` whose pre-call hook states each request's budget and sets
`max_tokens`, and whose success/failure hooks observe — the same logic as `train.serving.BudgetedClient`
(`train.serving_core.Core`), for a team that already runs LiteLLM in front of vLLM.

    # litellm config.yaml
    model_list:
      - model_name: terse
        litellm_params: {model: hosted_vllm/terse, api_base: http://localhost:8000/v1}
    litellm_settings:
      callbacks: train.litellm_hook.proxy_handler_instance
    # environment: TERSE_ALLOCATOR=exports/cond  TERSE_TARGET=20  TERSE_STATE_DIR=/var/lib/terse  TERSE_METRICS_PORT=9100

`pip install 'terse[serve]' litellm` (the hook needs litellm only when LiteLLM loads it; its methods are plain
async functions and are tested without it).
"""

from __future__ import annotations

import os
import time

from train.serving_core import Arm, Core, Metrics, load_allocator

try:  # LiteLLM's base class when it is installed (the proxy requires it); plain object otherwise
    from litellm.integrations.custom_logger import CustomLogger
except ImportError:  # pragma: no cover - depends on the environment
    CustomLogger = object


class TerseBudgetHook(CustomLogger):
    """`async_pre_call_hook` decides and states the budget; `async_log_success_event` observes
    `usage.completion_tokens`; `async_log_failure_event` forgets the decision (nothing observed)."""

    def __init__(self, allocator_path: str | None = None, target: float | None = None, state_dir: str | None = None,
                 metrics_port: int | None = None, save_every: int = 100):
        if CustomLogger is not object:
            super().__init__()
        path = allocator_path or os.environ.get("TERSE_ALLOCATOR")
        if not path:
            raise SystemExit("terse litellm hook: set TERSE_ALLOCATOR to the export directory holding allocator.json")
        allocator = load_allocator(path)
        target = target if target is not None else os.environ.get("TERSE_TARGET")
        if target is not None:
            allocator.set_target(float(target))
        self.metrics = Metrics()
        port = metrics_port if metrics_port is not None else os.environ.get("TERSE_METRICS_PORT")
        if port:
            self.metrics.serve(int(port))
        self.core = Core({"main": Arm("main", allocator)}, state_dir or os.environ.get("TERSE_STATE_DIR"), save_every,
                         self.metrics)

    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type: str):
        started = time.perf_counter()
        field = "messages" if "messages" in data else "prompt"
        if field not in data:
            return data
        decision = self.core.decide(data[field], data.get("metadata", {}).get("terse_row"), data.get("user"))
        data[field] = self.core.stated(decision)
        data["max_tokens"] = min(decision.budget, data.get("max_tokens") or decision.budget)
        data.setdefault("metadata", {})["terse_request_id"] = decision.request_id
        self.core.open[decision.request_id].started = started
        return data

    def _decision(self, kwargs: dict):
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or kwargs.get("metadata") or {}
        return self.core.open.get(metadata.get("terse_request_id"))

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        decision = self._decision(kwargs)
        usage = getattr(response_obj, "usage", None) or (response_obj.get("usage") if isinstance(response_obj, dict) else None)
        tokens = getattr(usage, "completion_tokens", None) if not isinstance(usage, dict) else usage.get("completion_tokens")
        if decision is not None and tokens is not None:
            self.core.observe(decision, int(tokens))

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        decision = self._decision(kwargs)
        if decision is not None:
            self.core.forget(decision, "server")


# What the LiteLLM config names (`callbacks: train.litellm_hook.proxy_handler_instance`): built at import from the
# TERSE_* environment, which the proxy's process has; without TERSE_ALLOCATOR (an import for the tests) none.
proxy_handler_instance = TerseBudgetHook() if os.environ.get("TERSE_ALLOCATOR") else None
