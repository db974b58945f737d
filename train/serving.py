"""Serve it: the allocator between your client and an OpenAI-compatible server (vLLM, `transformers serve`,
`python -m train.openai_server`), holding the token target on live traffic.

    from openai import OpenAI
    from train.serving import BudgetedClient

    client = BudgetedClient.from_export("exports/cond", OpenAI(base_url="http://localhost:8000/v1", api_key="-"),
                                        model="terse", target=20.0, state_dir="serving-state")
    out = client.chat.completions.create(model="terse", messages=[{"role": "user", "content": "…"}])
    out.terse            # {"request_id", "budget", "confidence", "arm"}
    client.feedback(out.terse["request_id"], correct=True)      # live EM, when you learn it

The caller's `chat.completions.create(...)` / `completions.create(...)` is unchanged: the wrapper asks the
allocator for the prompt's budget, states it the way the adapter learned to read it (`BudgetStatement`), sets
`max_tokens` to it (or lower, if the caller asked for less), calls the server, observes
`usage.completion_tokens` and returns the server's response with `.terse` added. Streaming passes through and is
observed at its end. `AsyncBudgetedClient` is the same over `openai.AsyncOpenAI`.

Why a wrapper and not a gateway: teams already run an OpenAI-compatible server and often a gateway in front
of it; the wrapper is a few lines in the client, and the LiteLLM hook (`train/litellm_hook.py`) the same
logic inside the gateway they run. Both share `Core`.

Faults: a server that is down or times out raises `ServerUnavailable` (the allocator observes nothing for that
request and forgets its decision); a request the server refuses (4xx) raises the server's own error, unchanged.
The allocator's live state (effective target, the window) is written atomically every `save_every` requests and
by `close()`, and a client built with the same `state_dir` resumes from it.

A/B: `arms={"A": {...}, "B": {...}}` — each arm its own allocator (another target or another adapter's
allocator) and model name; a request goes to the arm a stable hash of its `user` (or `key=`) picks, and every
request is one line of the JSONL `log_path` (arm, budget, tokens, confidence, feedback), which `ab_report`
reads.
"""

from __future__ import annotations

import json
import time

# The shared logic lives in train/serving_core.py; its public names are importable from here too.
from train.allocator import Allocator
from train.serving_core import STATE_FILE, Arm, Core, Decision, Metrics, ab_report, load_allocator, summary_from_metrics

__all__ = ["Arm", "AsyncBudgetedClient", "BudgetedClient", "Core", "Decision", "Metrics", "STATE_FILE",
           "ServerUnavailable", "ab_report", "load_allocator", "summary_from_metrics"]



class ServerUnavailable(RuntimeError):
    """The model server did not answer (down, refused the connection, or timed out)."""


# -- live figures (Prometheus) ----------------------------------------------------------------------------
# -- the shared logic -------------------------------------------------------------------------------------
# -- the client wrappers ----------------------------------------------------------------------------------
def _server_error(err) -> bool:
    try:
        import openai
    except ImportError:  # pragma: no cover - the wrapper is built on the openai client
        return False
    return isinstance(err, (openai.APIConnectionError, openai.APITimeoutError)) or \
        (isinstance(err, openai.APIStatusError) and err.status_code >= 500)


def _usage_tokens(response) -> int:
    usage = getattr(response, "usage", None)
    if usage is None or getattr(usage, "completion_tokens", None) is None:
        raise ValueError("the server's response has no usage.completion_tokens: the allocator cannot observe it")
    return int(usage.completion_tokens)


def _attach(response, decision: Decision):
    info = {"request_id": decision.request_id, "budget": decision.budget, "confidence": decision.confidence,
            "arm": decision.arm}
    try:
        response.terse = info
    except (AttributeError, ValueError):
        object.__setattr__(response, "terse", info)
    return response


class _Endpoint:
    """`completions` (prompt=) or `chat.completions` (messages=) of the wrapped client."""

    def __init__(self, owner, chat: bool):
        self.owner, self.chat = owner, chat

    def _prepare(self, kwargs: dict, row, key):
        core = self.owner.core
        field_name = "messages" if self.chat else "prompt"
        if field_name not in kwargs:
            raise TypeError(f"{'chat.completions' if self.chat else 'completions'}.create needs {field_name}=")
        started = time.perf_counter()
        decision = core.decide(kwargs[field_name], row, key if key is not None else kwargs.get("user"))
        sent = dict(kwargs)
        sent[field_name] = core.stated(decision)
        sent["max_tokens"] = min(decision.budget, kwargs.get("max_tokens") or decision.budget)
        model = core.arms[decision.arm].model
        if model is not None:
            sent["model"] = model
        if sent.get("stream"):
            sent["stream_options"] = {**(sent.get("stream_options") or {}), "include_usage": True}
        return decision, sent, time.perf_counter() - started

    def _target(self):
        client = self.owner.client
        return client.chat.completions if self.chat else client.completions

    def _failed(self, decision: Decision, err: Exception) -> Exception:
        """A request the server did not answer: nothing observed; the exception the caller gets."""
        server = _server_error(err)
        self.owner.core.forget(decision, "server" if server else "request")
        if server:
            return ServerUnavailable(f"the model server did not answer ({type(err).__name__}: {err}); nothing was "
                                     "observed for this request")
        return err

    def _finish(self, response, decision: Decision, spent: float):
        started = time.perf_counter()
        self.owner.core.observe(decision, _usage_tokens(response), spent + time.perf_counter() - started)
        return _attach(response, decision)


class _StreamCount:
    """A stream's completion tokens: its usage chunk's, else the number of chunks that carried choices."""

    def __init__(self):
        self.usage, self.pieces = None, 0

    def add(self, chunk) -> None:
        if getattr(chunk, "usage", None) is not None and chunk.usage.completion_tokens is not None:
            self.usage = chunk.usage.completion_tokens
        self.pieces += bool(getattr(chunk, "choices", None))

    @property
    def tokens(self) -> int:
        return self.usage if self.usage is not None else self.pieces


class _SyncEndpoint(_Endpoint):
    def create(self, *, row: dict | None = None, key: str | None = None, **kwargs):
        decision, sent, spent = self._prepare(kwargs, row, key)
        try:
            response = self._target().create(**sent)
        except Exception as err:
            failure = self._failed(decision, err)
            if failure is err:
                raise  # the server's own error (a 4xx), unchanged
            raise failure from err
        if sent.get("stream"):
            return self._stream(response, decision, spent)
        return self._finish(response, decision, spent)

    def _stream(self, chunks, decision, spent):
        count = _StreamCount()
        try:
            for chunk in chunks:
                count.add(chunk)
                yield _attach(chunk, decision)
        except Exception:
            self.owner.core.forget(decision, "stream")
            raise
        self.owner.core.observe(decision, count.tokens, spent)


class _AsyncEndpoint(_Endpoint):
    async def create(self, *, row: dict | None = None, key: str | None = None, **kwargs):
        decision, sent, spent = self._prepare(kwargs, row, key)
        try:
            response = await self._target().create(**sent)
        except Exception as err:
            failure = self._failed(decision, err)
            if failure is err:
                raise  # the server's own error (a 4xx), unchanged
            raise failure from err
        if sent.get("stream"):
            return self._stream(response, decision, spent)
        return self._finish(response, decision, spent)

    async def _stream(self, chunks, decision, spent):
        count = _StreamCount()
        try:
            async for chunk in chunks:
                count.add(chunk)
                yield _attach(chunk, decision)
        except Exception:
            self.owner.core.forget(decision, "stream")
            raise
        self.owner.core.observe(decision, count.tokens, spent)


class _Namespace:
    def __init__(self, **parts):
        self.__dict__.update(parts)


class BudgetedClient:
    """An `openai.OpenAI` client with the allocator in front (see the module docstring)."""

    endpoint = _SyncEndpoint

    def __init__(self, client, allocator: Allocator | None = None, *, model: str | None = None,
                 arms: dict[str, Arm] | None = None, **core):
        """`client` with `allocator` (served as `model`) in front, or `arms` for an A/B test. `core`: what the
        serving core keeps and reports (`serving_core.Core`: `state_dir`, `save_every`, `metrics`, `log_path`),
        passed through so that one class owns those defaults."""
        if (allocator is None) == (arms is None):
            raise ValueError("give an allocator, or arms for an A/B test (not both)")
        arms = arms or {"main": Arm("main", allocator, model)}
        self.client = client
        self.core = Core(arms, **core)
        self.completions = self.endpoint(self, chat=False)
        self.chat = _Namespace(completions=self.endpoint(self, chat=True))

    @classmethod
    def from_export(cls, export_dir, client, *, target: float | None = None, **kwargs):
        """The wrapper over an export's allocator.json (a missing or corrupt one stops here with one line)."""
        allocator = load_allocator(export_dir)
        if target is not None:
            allocator.set_target(target)
        return cls(client, allocator, **kwargs)

    def feedback(self, request_id: str, correct: bool) -> None:
        self.core.feedback(request_id, correct)

    def close(self) -> None:
        """Write the allocator's live state (resumed by a client built with the same state_dir)."""
        self.core.save()


class AsyncBudgetedClient(BudgetedClient):
    """`BudgetedClient` over `openai.AsyncOpenAI`: `await client.chat.completions.create(...)`."""

    endpoint = _AsyncEndpoint


# -- A/B report -------------------------------------------------------------------------------------------
def main(argv=None) -> int:
    """`python -m train.serving summary --metrics URL` (live figures) or `ab --log FILE` (the A/B report)."""
    import argparse
    import urllib.request

    parser = argparse.ArgumentParser(prog="python -m train.serving")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="a live summary from the Prometheus metrics endpoint")
    s.add_argument("--metrics", required=True, help="e.g. http://127.0.0.1:9100/metrics")
    a = sub.add_parser("ab", help="per-arm tokens and live EM, B − A with 95% intervals")
    a.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    if args.command == "summary":
        try:
            with urllib.request.urlopen(args.metrics, timeout=5) as response:
                text = response.read().decode()
        except OSError as err:
            raise SystemExit(f"terse serving: no metrics at {args.metrics} ({err})") from None
        print(json.dumps(summary_from_metrics(text), indent=1))
    else:
        print(json.dumps(ab_report(args.log), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
