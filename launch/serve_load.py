"""Load, fault and overhead checks of the serving path against a real server: `python launch/serve_load.py`.

With no arguments it serves the shipped budget-conditioned model (`chain_budget`'s base model, which reads the
`budget N :` tag; its allocator fitted here on its own answers to calibration prompts at every budget) through
`python -m train.openai_server`, which it starts and stops itself, and checks:

1. **Load**: `--requests` (500) val prompts at concurrency `--concurrency` (16) through `BudgetedClient`, the mix
   shifting from easy to hard (sorted by chain length); every request answered once (a request that meets a
   fault is retried until answered), the mean tokens of every 100 consecutive answers against T, EM per window.
2. **Faults**: the server is killed after 40% of the requests and restarted `--down_seconds` later: the errors
   are counted, nothing is observed for them, traffic resumes with no client restart and the windows still hold
   T. Then the client is dropped without `close()` and a new one built on its state directory serves 100
   more: μ resumes from the saved state (its first window against T).
3. **Overhead**: the same prompts and budgets sent directly and through the wrapper, interleaved, one at a
   time: wall p50/p99 of both, and the wrapper's own time in-process; the LiteLLM hook's pre-call + success
   methods in-process; the allocator's `budget()` + `observe()` in µs.

The last line printed is one JSON object with at least `sent`, `answered`, `duplicated`,
`worst_window_over_T`, `wrapper_p50_ms`, `hook_p50_ms` and `faults_ok`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m train.openai_server` (`kind` "own") or `transformers serve` ("transformers") on `port`."""

    def __init__(self, model_dir: str, port: int, threads: int, kind: str = "own"):
        self.model_dir, self.port, self.threads, self.kind, self.proc = model_dir, port, threads, kind, None

    def start(self, timeout: float = 120) -> None:
        import os
        import shutil

        if self.kind == "transformers":
            cli = shutil.which("transformers") or "transformers"
            cmd = [cli, "serve", self.model_dir, "--port", str(self.port), "--host", "127.0.0.1"]
        else:
            cmd = [sys.executable, "-m", "train.openai_server", self.model_dir, "--port", str(self.port), "--threads",
                   str(self.threads)]
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"serve_load: the server failed to start: {self.proc.stderr.read().decode()[-500:]}")
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"serve_load: the server did not answer /health within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def builtin_setup(calibration_rows: int, ratio: float, threads: int):
    """(model dir, val rows, allocator at T = ratio × the untagged base tokens, T) for the shipped chain_budget
    model: the allocator fitted on its greedy answers to calibration prompts at every budget."""
    import random

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from train import tasks
    from train.allocator import Allocator
    from train.base_model import WarmStartSettings, cached_base_model, continued_settings
    from train.generation import evaluate
    from train.served_eval import budget_records

    torch.set_num_threads(threads)
    task, easy = tasks.get("chain_budget"), tasks.get("chain_easy")
    train_rows, val_rows = task.load(0)
    cache = REPO / ".cache" / "terse"
    first = WarmStartSettings(task="chain_easy")
    base = cached_base_model(cache, first, easy.sft_rows(train_rows))
    model_dir = cached_base_model(cache, continued_settings(first, task, 900, str(base)), task.sft_rows(train_rows))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    untagged = evaluate(model, tokenizer, val_rows[:200], 128, desc="untagged")
    target = ratio * untagged["mean_tokens"]
    rows = random.Random(0).sample(task.calibration_rows(train_rows), calibration_rows)
    grid = task.budget_grid()
    records = budget_records(model, tokenizer, rows, grid, task.budget_prompt, 128)
    allocator = Allocator.fit(records, grid, target, **task.budget_tag())
    return str(model_dir), val_rows, allocator, target


def right(text: str, row: dict) -> bool:
    from train.generation import is_right

    return is_right(text, row)


def load_run(client, rows: list[dict], concurrency: int, server: ServerProcess | None, down_at: int,
             down_seconds: float) -> dict:
    """Every row through the wrapper at `concurrency`; a fault mid-run when `server` is given. Returns the
    answers in completion order and the error count."""
    from train.serving import ServerUnavailable

    answers, errors, lock = [], [], threading.Lock()
    started = [0]
    fault = threading.Event()

    def one(i: int):
        row = rows[i]
        while True:
            with lock:
                started[0] += 1
                if server is not None and started[0] == down_at and not fault.is_set():
                    fault.set()
                    server.stop()
                    threading.Timer(down_seconds, server.start).start()
            try:
                out = client.completions.create(model="terse", prompt=row["prompt"], temperature=0)
            except ServerUnavailable:
                with lock:
                    errors.append(i)
                time.sleep(0.25)
                continue
            with lock:
                answers.append({"i": i, "request_id": out.terse["request_id"], "budget": out.terse["budget"],
                                "tokens": out.usage.completion_tokens, "correct": right(out.choices[0].text, row)})
            return

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(len(rows))))
    return {"answers": answers, "errors": len(errors)}


def windows(answers: list[dict], target: float, size: int = 100) -> list[dict]:
    out = []
    for start in range(0, len(answers) - size + 1, size):
        part = answers[start:start + size]
        out.append({"from": start, "mean_tokens": statistics.fmean(a["tokens"] for a in part),
                    "over_T": statistics.fmean(a["tokens"] for a in part) / target,
                    "em": statistics.fmean(a["correct"] for a in part)})
    return out


def overhead(client_factory, direct_client, allocator, rows: list[dict], n: int, allocator_path: str) -> dict:
    """Wall time direct vs through the wrapper (same prompts and budgets, interleaved), the wrapper's own time,
    the hook's methods, the allocator's budget() + observe()."""
    from train.litellm_hook import TerseBudgetHook

    wrapper = client_factory()
    direct_ms, wrapped_ms, own_ms = [], [], []
    for row in rows[:n]:
        t0 = time.perf_counter()
        out = wrapper.completions.create(model="terse", prompt=row["prompt"], temperature=0)
        wrapped_ms.append((time.perf_counter() - t0) * 1e3)
        stated = wrapper.core.arms["main"].allocator.prompt_with_budget(row["prompt"], out.terse["budget"])
        t0 = time.perf_counter()
        direct_client.completions.create(model=wrapper.core.arms["main"].model, prompt=stated,
                                         max_tokens=out.terse["budget"], temperature=0)
        direct_ms.append((time.perf_counter() - t0) * 1e3)
    for row in rows[:n]:  # the wrapper's own work, without the HTTP call: decide, state, observe
        t0 = time.perf_counter()
        d = wrapper.core.decide(row["prompt"])
        wrapper.core.stated(d)
        wrapper.core.observe(d, int(d.predicted_tokens))
        own_ms.append((time.perf_counter() - t0) * 1e3)
    hook = TerseBudgetHook(allocator_path)
    hook_ms = []

    class Usage:
        completion_tokens = 10

    response = type("Response", (), {"usage": Usage()})()

    async def hook_calls():
        for row in rows[:n]:
            t0 = time.perf_counter()
            data = await hook.async_pre_call_hook(None, None, {"model": "terse", "prompt": row["prompt"]}, "completion")
            await hook.async_log_success_event({"metadata": data["metadata"]}, response, 0, 0)
            hook_ms.append((time.perf_counter() - t0) * 1e3)

    asyncio.run(hook_calls())
    alloc_us = []
    for row in rows[:n]:
        t0 = time.perf_counter()
        allocator.budget(row["prompt"])
        allocator.observe(10, prompt=row["prompt"])
        alloc_us.append((time.perf_counter() - t0) * 1e6)

    def q(values, p):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {"direct_p50_ms": q(direct_ms, 0.5), "direct_p99_ms": q(direct_ms, 0.99),
            "through_wrapper_p50_ms": q(wrapped_ms, 0.5), "through_wrapper_p99_ms": q(wrapped_ms, 0.99),
            "added_p50_ms": q(wrapped_ms, 0.5) - q(direct_ms, 0.5),
            "wrapper_p50_ms": q(own_ms, 0.5), "wrapper_p99_ms": q(own_ms, 0.99),
            "hook_p50_ms": q(hook_ms, 0.5), "hook_p99_ms": q(hook_ms, 0.99),
            "allocator_budget_observe_us_p50": q(alloc_us, 0.5)}


def litellm_load(url: str, key: str, target: float, requests: int, concurrency: int) -> dict:
    """The load check through a running LiteLLM proxy whose callbacks include `train.litellm_hook` (the proxy
    states budgets and observes; this side only sends plain requests and reads `usage`)."""
    import openai

    from train import tasks

    val_rows = tasks.get("chain_budget").load(0)[1]
    rows = sorted(val_rows, key=lambda r: r["difficulty"])
    rows = [rows[int(i * len(rows) / requests)] for i in range(requests)]
    client = openai.OpenAI(base_url=url, api_key=key, timeout=60, max_retries=0)
    answers, lock = [], threading.Lock()

    def one(i):
        t0 = time.perf_counter()
        out = client.completions.create(model="terse", prompt=rows[i]["prompt"], temperature=0, max_tokens=128)
        with lock:
            answers.append({"i": i, "id": out.id, "tokens": out.usage.completion_tokens,
                            "correct": right(out.choices[0].text, rows[i]), "ms": (time.perf_counter() - t0) * 1e3})

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(len(rows))))
    per_window = windows(answers, target)
    ids = [a["id"] for a in answers]
    return {"sent": len(rows), "answered": len({a["i"] for a in answers}), "duplicated": len(ids) - len(set(ids)),
            "target": target, "windows": per_window, "worst_window_over_T": max(w["over_T"] for w in per_window),
            "em": statistics.fmean(a["correct"] for a in answers),
            "mean_tokens": statistics.fmean(a["tokens"] for a in answers),
            "proxy_p50_ms": sorted(a["ms"] for a in answers)[len(answers) // 2]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--ratio", type=float, default=0.4, help="T = this × the untagged model's mean tokens")
    parser.add_argument("--calibration_rows", type=int, default=300)
    parser.add_argument("--down_seconds", type=float, default=3.0)
    parser.add_argument("--overhead_requests", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the server and the calibration")
    parser.add_argument("--out", help="also write the report here (JSON)")
    parser.add_argument("--server", choices=["own", "transformers"], default="own",
                        help="own: python -m train.openai_server; transformers: `transformers serve` "
                        "(pip install 'transformers[serving]')")
    parser.add_argument("--litellm_url", help="instead: send the load through this running LiteLLM proxy "
                        "(callbacks: train.litellm_hook.proxy_handler_instance) and check its windows")
    parser.add_argument("--litellm_key", default="none")
    parser.add_argument("--target", type=float, help="with --litellm_url: the proxy's T (TERSE_TARGET or its allocator's)")
    args = parser.parse_args(argv)
    if args.litellm_url:
        if args.target is None:
            parser.error("--litellm_url needs --target (the T the proxy's allocator holds)")
        report = litellm_load(args.litellm_url, args.litellm_key, args.target, args.requests, args.concurrency)
        for w in report["windows"]:
            print(f"answers {w['from']:>3}–{w['from'] + 99:>3}: mean tokens {w['mean_tokens']:5.1f} "
                  f"({w['over_T']:.3f}·T), EM {w['em']:.3f}")
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=1))
        print(json.dumps({k: v for k, v in report.items() if k != "windows"}))
        return 0 if report["worst_window_over_T"] <= 1.1 and report["duplicated"] == 0 else 1

    import openai

    from train.serving import BudgetedClient, Metrics, summary_from_metrics

    model_dir, val_rows, allocator, target = builtin_setup(args.calibration_rows, args.ratio, args.threads)
    state = Path(tempfile.mkdtemp(prefix="terse-serve-load-"))
    allocator.save(state / "export")
    rows = sorted(val_rows, key=lambda r: r["difficulty"])  # easy to hard: the mix shifts under the allocator
    rows = [rows[int(i * len(rows) / args.requests)] for i in range(args.requests)]
    server = ServerProcess(model_dir, free_port(), args.threads, args.server)
    served_name = model_dir if args.server == "transformers" else "terse"  # transformers serve knows it by its path
    server.start()
    url = f"http://127.0.0.1:{server.port}/v1"

    def make_client(state_dir=None, metrics=None):
        from train.allocator import Allocator

        fresh = Allocator.load(state / "export")
        return BudgetedClient(openai.OpenAI(base_url=url, api_key="none", timeout=30, max_retries=0), fresh,
                              model=served_name, state_dir=state_dir, save_every=20, metrics=metrics)

    try:
        metrics = Metrics()
        client = make_client(state / "live", metrics)
        run = load_run(client, rows, args.concurrency, server, int(0.4 * len(rows)), args.down_seconds)
        answers = run["answers"]
        observed = client.core.arms["main"].allocator.stats["requests"]
        per_window = windows(answers, target)
        # the client dropped without close(): a new one on the same state directory serves 100 more
        resumed = make_client(state / "live")
        mu_before = client.core.arms["main"].allocator.mu
        more = load_run(resumed, rows[-100:], args.concurrency, None, 0, 0)
        resumed_window = windows(more["answers"], target)[0]
        ids = [a["request_id"] for a in answers]
        report = {
            "sent": len(rows), "answered": len({a["i"] for a in answers}), "duplicated": len(ids) - len(set(ids)),
            "errors_during_fault": run["errors"], "observed": observed, "target": target,
            "windows": per_window, "worst_window_over_T": max(w["over_T"] for w in per_window),
            "em": statistics.fmean(a["correct"] for a in answers),
            "mean_tokens": statistics.fmean(a["tokens"] for a in answers),
            "resumed_first_window_over_T": resumed_window["over_T"], "mu_before_restart": mu_before,
            "mu_after_restart": resumed.core.arms["main"].allocator.mu,
            "live_summary": summary_from_metrics(metrics.text()), "server": args.server,
        }
        direct = openai.OpenAI(base_url=url, api_key="none", timeout=30, max_retries=0)
        report |= overhead(make_client, direct, make_client().core.arms["main"].allocator, rows,
                           args.overhead_requests, str(state / "export"))
        report["faults_ok"] = (report["answered"] == len(rows) and report["duplicated"] == 0
                               and report["errors_during_fault"] > 0 and observed == len(rows)
                               and report["worst_window_over_T"] <= 1.1 and report["resumed_first_window_over_T"] <= 1.1)
    finally:
        server.stop()
    for w in report["windows"]:
        print(f"answers {w['from']:>3}–{w['from'] + 99:>3}: mean tokens {w['mean_tokens']:5.1f} "
              f"({w['over_T']:.3f}·T), EM {w['em']:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k not in ("windows", "live_summary")}))
    return 0 if report["faults_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
