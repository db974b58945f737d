"""The logic shared by the serving wrapper (train/serving.py, `BudgetedClient`) and the LiteLLM hook
(train/litellm_hook.py): `Core` decides a request's budget and arm, observes its answer and keeps the allocator's
live state on disk; `Metrics` exports the live figures to Prometheus (`summary_from_metrics` reads them back);
`ab_report` compares two arms from the request log. No client or server code here."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from train.allocator import Allocator

STATE_FILE = "serving_state.json"
RECENT_REQUESTS = 100_000  # answers whose arm is kept in memory for feedback


def load_allocator(path) -> Allocator:
    """An allocator.json, or one clear line saying why it cannot be served."""
    path = Path(path)
    try:
        return Allocator.load(path)
    except FileNotFoundError as err:
        raise SystemExit(f"terse serving: {err}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise SystemExit(f"terse serving: {path} is not a readable allocator.json ({type(err).__name__}: {err})") \
            from None


def arm_of(key: str, arms: list[str]) -> str:
    """The arm a user/session key falls in: a stable hash, so a user stays in one arm across requests and
    restarts.

    >>> arm_of("user-1", ["A", "B"]) == arm_of("user-1", ["A", "B"])
    True
    """
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return arms[h % len(arms)]


class Metrics:
    """Prometheus metrics of the served traffic, in their own registry (`registry`): requests, failures,
    completion tokens (histogram), the window's mean tokens against T, the price μ, answers over their budget,
    live EM from feedback. `serve(port)` exposes them for Prometheus to scrape."""

    def __init__(self, namespace: str = "terse"):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r, n = self.registry, namespace
        self.requests = Counter(f"{n}_requests", "Answered requests", ["arm"], registry=r)
        self.failures = Counter(f"{n}_failures", "Requests the server did not answer", ["arm", "kind"], registry=r)
        self.tokens = Histogram(f"{n}_completion_tokens", "Completion tokens per answer", ["arm"], registry=r,
                                buckets=(4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024))
        self.over_budget = Counter(f"{n}_over_budget", "Answers longer than their stated budget", ["arm"], registry=r)
        self.window_tokens = Gauge(f"{n}_window_mean_tokens", "Mean tokens of the last window of answers", ["arm"],
                                   registry=r)
        self.target = Gauge(f"{n}_target_tokens", "The mean-token target T", ["arm"], registry=r)
        self.mu = Gauge(f"{n}_price_mu", "The allocator's token price", ["arm"], registry=r)
        self.feedback = Counter(f"{n}_feedback", "Scored answers", ["arm", "correct"], registry=r)
        self.latency = Histogram(f"{n}_added_latency_seconds", "Time the wrapper adds to a request", ["arm"],
                                 registry=r, buckets=(1e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2))

    def serve(self, port: int, addr: str = "127.0.0.1"):
        from prometheus_client import start_http_server

        return start_http_server(port, addr=addr, registry=self.registry)

    def text(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


def summary_from_metrics(text: str) -> dict:
    """A live summary per arm from Prometheus text (this module's metrics): requests, failures, mean tokens,
    window mean against T, μ, share over budget, live EM."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            arm = s.labels.get("arm", "")
            values.setdefault(arm, {})
            key = s.name + ("" if "correct" not in s.labels else f":{s.labels['correct']}") + \
                ("" if "kind" not in s.labels else f":{s.labels['kind']}")
            values[arm][key] = values[arm].get(key, 0.0) + s.value
    out = {}
    for arm, v in values.items():
        n = v.get("terse_requests_total", 0.0)
        right, wrong = v.get("terse_feedback_total:true", 0.0), v.get("terse_feedback_total:false", 0.0)
        out[arm] = {
            "requests": int(n),
            "failures": int(sum(x for k, x in v.items() if k.startswith("terse_failures_total"))),
            "mean_tokens": v.get("terse_completion_tokens_sum", 0.0) / n if n else None,
            "window_mean_tokens": v.get("terse_window_mean_tokens"), "target": v.get("terse_target_tokens"),
            "mu": v.get("terse_price_mu"),
            "over_budget_share": v.get("terse_over_budget_total", 0.0) / n if n else None,
            "live_em": right / (right + wrong) if right + wrong else None,
        }
    return out


@dataclass
class Arm:
    """One configuration being served: its allocator and the model name the server knows its adapter by."""

    name: str
    allocator: Allocator
    model: str | None = None


@dataclass
class Decision:
    request_id: str
    arm: str
    budget: int
    confidence: float
    group: int
    predicted_tokens: float
    prompt: object
    row: dict | None
    started: float = field(default_factory=time.perf_counter)


class Core:
    """What the client wrapper and the LiteLLM hook share: decide, observe, forget, feedback, persist, log.
    Thread-safe (one lock around the allocator: `decide`/`observe` take microseconds)."""

    def __init__(self, arms: dict[str, Arm], state_dir=None, save_every: int = 100, metrics: Metrics | None = None,
                 log_path=None):
        if not arms:
            raise ValueError("serving needs at least one arm (an allocator)")
        self.arms, self.save_every, self.metrics = arms, save_every, metrics
        self.state_dir = Path(state_dir) if state_dir else None
        self.log_path = Path(log_path) if log_path else None
        self.lock = threading.Lock()
        self.open: dict[str, Decision] = {}
        # request → arm of the last RECENT_REQUESTS answers: feedback finds its arm without reading the log
        self.recent_arms: OrderedDict[str, str] = OrderedDict()
        self.answered = 0
        self.served_since_save = 0
        if self.state_dir is not None:
            self._resume()
        for name, arm in arms.items():
            if metrics:
                metrics.target.labels(name).set(arm.allocator.target)
                metrics.mu.labels(name).set(arm.allocator.mu)

    # decisions
    def decide(self, prompt, row: dict | None = None, key: str | None = None) -> Decision:
        arm = self.arms[arm_of(key, list(self.arms))] if key is not None and len(self.arms) > 1 else \
            next(iter(self.arms.values()))
        with self.lock:
            d = arm.allocator.decide(prompt, row)
            decision = Decision(uuid.uuid4().hex, arm.name, int(d["budget"]), float(d["confidence"]), d["group"],
                                d["predicted_tokens"], prompt, row)
            self.open[decision.request_id] = decision
        return decision

    def stated(self, decision: Decision):
        return self.arms[decision.arm].allocator.prompt_with_budget(decision.prompt, decision.budget)

    def observe(self, decision: Decision, tokens: int, wrapper_seconds: float = 0.0) -> None:
        arm = self.arms[decision.arm]
        with self.lock:
            self.open.pop(decision.request_id, None)
            self._drop_pending(arm.allocator, decision)
            arm.allocator.pending.insert(0, (decision.group, decision.predicted_tokens))  # observe pops it
            arm.allocator.observe(tokens, prompt=decision.prompt, row=decision.row)
            self.answered += 1
            self.served_since_save += 1
            self.recent_arms[decision.request_id] = arm.name
            if len(self.recent_arms) > RECENT_REQUESTS:
                self.recent_arms.popitem(last=False)
            window = [t for _, t in arm.allocator.recent]
            save = self.state_dir is not None and self.served_since_save >= self.save_every
        if self.metrics:
            m = self.metrics
            m.requests.labels(arm.name).inc()
            m.tokens.labels(arm.name).observe(tokens)
            if tokens > decision.budget:
                m.over_budget.labels(arm.name).inc()
            m.window_tokens.labels(arm.name).set(sum(window) / len(window))
            m.mu.labels(arm.name).set(arm.allocator.mu)
            m.latency.labels(arm.name).observe(wrapper_seconds)
        self._log({"request_id": decision.request_id, "arm": arm.name, "budget": decision.budget, "tokens": tokens,
                   "confidence": round(decision.confidence, 4), "group": decision.group})
        if save:
            self.save()

    def forget(self, decision: Decision, kind: str) -> None:
        """A request that got no answer: nothing observed, its decision no longer counted as in flight."""
        with self.lock:
            self.open.pop(decision.request_id, None)
            self._drop_pending(self.arms[decision.arm].allocator, decision)
        if self.metrics:
            self.metrics.failures.labels(decision.arm, kind).inc()

    @staticmethod
    def _drop_pending(allocator: Allocator, decision: Decision) -> None:
        entry = (decision.group, decision.predicted_tokens)
        if entry in allocator.pending:
            allocator.pending.remove(entry)

    def feedback(self, request_id: str, correct: bool, arm: str | None = None) -> None:
        """Whether an answer was right, when the caller learns it: live EM per arm."""
        if self.metrics:
            self.metrics.feedback.labels(arm or self._arm_of_request(request_id), str(bool(correct)).lower()).inc()
        self._log({"request_id": request_id, "feedback": bool(correct)})

    def _arm_of_request(self, request_id: str) -> str:
        """The arm that served a request: remembered for the last RECENT_REQUESTS answers and the ones in flight;
        older ones (or from before a restart) are looked up in the request log."""
        with self.lock:
            if request_id in self.recent_arms:
                return self.recent_arms[request_id]
            if request_id in self.open:
                return self.open[request_id].arm
        if self.log_path and self.log_path.exists():
            for line in self.log_path.read_text().splitlines():
                entry = json.loads(line)
                if entry.get("request_id") == request_id and "arm" in entry:
                    return entry["arm"]
        return next(iter(self.arms))

    def _log(self, entry: dict) -> None:
        if self.log_path is None:
            return
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    # persistence
    def save(self) -> None:
        """Each arm's live state (effective target, window, running figures), written atomically."""
        if self.state_dir is None:
            return
        with self.lock:
            state = {name: {"target": a.allocator.target, "effective_target": a.allocator.effective_target,
                            "recent": a.allocator.recent, "stats": a.allocator.stats} for name, a in self.arms.items()}
            self.served_since_save = 0
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_dir / STATE_FILE)

    def _resume(self) -> None:
        path = self.state_dir / STATE_FILE
        if not path.exists():
            return
        state = json.loads(path.read_text())
        for name, s in state.items():
            if name in self.arms:
                alloc = self.arms[name].allocator
                if abs(alloc.target - s["target"]) < 1e-9:  # the same target: resume its control
                    alloc.effective_target = s["effective_target"]
                    alloc.recent = [tuple(x) for x in s["recent"]]
                    alloc.stats = s["stats"]
                    alloc._resolve()


def ab_report(log_path, n_boot: int = 2000, seed: int = 0) -> dict:
    """Per arm: requests, mean tokens, live EM (scored requests); and B − A for both with a bootstrap 95%
    interval (requests resampled within each arm), from the JSONL log."""
    import random
    import statistics

    answered, verdicts = {}, {}
    for line in Path(log_path).read_text().splitlines():
        e = json.loads(line)
        if "tokens" in e:
            answered[e["request_id"]] = e
        elif "feedback" in e:
            verdicts[e["request_id"]] = float(e["feedback"])
    arms: dict = {}
    for rid, e in answered.items():
        arms.setdefault(e["arm"], []).append((e["tokens"], verdicts.get(rid)))
    out = {"arms": {}}
    for arm, entries in sorted(arms.items()):
        scored = [v for _, v in entries if v is not None]
        out["arms"][arm] = {"requests": len(entries), "mean_tokens": statistics.fmean(t for t, _ in entries),
                            "scored": len(scored), "em": statistics.fmean(scored) if scored else None}
    names = sorted(arms)
    if len(names) == 2:
        rng = random.Random(seed)
        a, b = arms[names[0]], arms[names[1]]

        def diff(xs, ys, pick):
            xs, ys = [pick(x) for x in xs if pick(x) is not None], [pick(y) for y in ys if pick(y) is not None]
            if not xs or not ys:
                return None
            point = statistics.fmean(ys) - statistics.fmean(xs)
            boots = sorted(statistics.fmean(rng.choices(ys, k=len(ys))) - statistics.fmean(rng.choices(xs, k=len(xs)))
                           for _ in range(n_boot))
            return {"diff": point, "ci": [boots[int(0.025 * n_boot)], boots[int(0.975 * n_boot) - 1]]}

        out["b_minus_a"] = {"a": names[0], "b": names[1], "tokens": diff(a, b, lambda e: e[0]),
                            "em": diff(a, b, lambda e: e[1])}
    return out
