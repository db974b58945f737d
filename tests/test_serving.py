"""Serve it: the wrapper, the LiteLLM hook's methods, the metrics, A/B and each fault, against a real local server
process (`python -m train.openai_server`, the project's own minimal OpenAI-compatible server: `transformers serve`
takes too long to start on 2 cores for a test) serving a tiny random model. Every test ends its server."""

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("prometheus_client")

from train.allocator import Allocator  # noqa: E402
from train.serving import AsyncBudgetedClient, BudgetedClient, ServerUnavailable  # noqa: E402
from train.serving_core import Arm, Metrics, ab_report, arm_of, load_allocator, summary_from_metrics  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GRID = [2, 4, 8]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m train.openai_server MODEL --port P` in its own process; waits for /health (timeout)."""

    def __init__(self, model_dir, port=None):
        self.model_dir, self.port = model_dir, port or free_port()
        self.proc = None

    def start(self, timeout=60):
        self.proc = subprocess.Popen([sys.executable, "-m", "train.openai_server", str(self.model_dir), "--port",
                                      str(self.port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read().decode())
                time.sleep(0.2)
        self.stop()
        raise TimeoutError("the test server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/v1"


@pytest.fixture(scope="module")
def server(byte_lm):
    s = Server(byte_lm).start()
    yield s
    s.stop()


def allocator(target=4.0, tag="Answer in at most {budget} tokens."):
    """Short prompts are right at 2 tokens, long ones need 8: a fit the wrapper can act on."""
    records = [{"prompt": p, "budget": b, "tokens": min(b, 2 if len(p.split()) < 4 else 8),
                "correct": b >= (2 if len(p.split()) < 4 else 8)}
               for p in ["a b", "c d", "e f g h i", "j k l m n"] for b in GRID]
    return Allocator.fit(records, GRID, target, prior_strength=0.0, tag=tag)


def openai_client(url, **kw):
    return openai.OpenAI(base_url=url, api_key="none", timeout=10, max_retries=0, **kw)


def test_the_wrapper_states_the_budget_caps_max_tokens_and_observes(server, tmp_path):
    metrics = Metrics()
    client = BudgetedClient(openai_client(server.url), allocator(), model="terse", metrics=metrics,
                            log_path=tmp_path / "log.jsonl")
    out = client.completions.create(model="anything", prompt="e f g h i", max_tokens=100, temperature=0)
    assert out.terse["budget"] in GRID and out.usage.completion_tokens <= out.terse["budget"]
    chat = client.chat.completions.create(model="terse", messages=[{"role": "user", "content": "a b"}])
    assert chat.terse["budget"] in GRID and chat.usage.completion_tokens <= chat.terse["budget"]
    capped = client.completions.create(model="terse", prompt="e f g h i", max_tokens=1)
    assert capped.usage.completion_tokens <= 1  # a caller's lower max_tokens wins
    alloc = client.core.arms["main"].allocator
    assert alloc.stats["requests"] == 3 and alloc.pending == [] and client.core.open == {}
    client.feedback(out.terse["request_id"], True)
    client.feedback(chat.terse["request_id"], False)
    summary = summary_from_metrics(metrics.text())["main"]
    assert summary["requests"] == 3 and summary["live_em"] == 0.5 and summary["failures"] == 0
    log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["budget"] for e in log if "budget" in e] == [out.terse["budget"], chat.terse["budget"], capped.terse["budget"]]


def test_streaming_passes_through_and_is_observed_at_its_end(server):
    client = BudgetedClient(openai_client(server.url), allocator(), model="terse")
    chunks = list(client.completions.create(model="terse", prompt="a b", stream=True))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    usage = [c.usage for c in chunks if getattr(c, "usage", None)]
    assert usage and client.core.arms["main"].allocator.stats["tokens"] == usage[-1].completion_tokens
    assert isinstance(text, str) and all(c.terse["budget"] == chunks[0].terse["budget"] for c in chunks)


def test_the_async_wrapper(server):
    async def run():
        client = AsyncBudgetedClient(openai.AsyncOpenAI(base_url=server.url, api_key="none", timeout=10, max_retries=0),
                                     allocator(), model="terse")
        outs = await asyncio.gather(*[client.completions.create(model="terse", prompt=p) for p in ["a b", "e f g h i"] * 4])
        return client, outs

    client, outs = asyncio.run(run())
    assert len({o.terse["request_id"] for o in outs}) == 8
    assert client.core.arms["main"].allocator.stats["requests"] == 8 and client.core.arms["main"].allocator.pending == []


def test_a_malformed_request_gets_the_servers_4xx_unchanged_and_nothing_observed(server):
    metrics = Metrics()
    client = BudgetedClient(openai_client(server.url), allocator(), model="terse", metrics=metrics)
    with pytest.raises(openai.BadRequestError, match="temperature"):
        client.completions.create(model="terse", prompt="a b", temperature=-1)
    alloc = client.core.arms["main"].allocator
    assert alloc.stats["requests"] == 0 and alloc.pending == [] and client.core.open == {}
    assert summary_from_metrics(metrics.text())["main"]["failures"] == 1


def test_a_server_down_then_back_gives_clear_errors_and_traffic_resumes(byte_lm):
    server = Server(byte_lm).start()
    metrics = Metrics()
    client = BudgetedClient(openai_client(server.url), allocator(), model="terse", metrics=metrics)
    try:
        client.completions.create(model="terse", prompt="a b")
        server.stop()
        for _ in range(3):
            with pytest.raises(ServerUnavailable, match="did not answer.*nothing was observed"):
                client.completions.create(model="terse", prompt="e f g h i")
        alloc = client.core.arms["main"].allocator
        assert alloc.stats["requests"] == 1 and alloc.pending == []
        server.start()  # same port, no client restart
        assert client.completions.create(model="terse", prompt="a b").terse["budget"] in GRID
        assert alloc.stats["requests"] == 2
        assert summary_from_metrics(metrics.text())["main"]["failures"] == 3
    finally:
        server.stop()


def test_the_state_is_saved_atomically_and_a_restart_resumes_it(server, tmp_path):
    client = BudgetedClient(openai_client(server.url), allocator(), model="terse", state_dir=tmp_path, save_every=2)
    for p in ["e f g h i"] * 3:
        client.completions.create(model="terse", prompt=p)
    alloc = client.core.arms["main"].allocator
    client.close()
    state = json.loads((tmp_path / "serving_state.json").read_text())["main"]
    assert len(state["recent"]) == 3 and not (tmp_path / "serving_state.json.tmp").exists()
    again = BudgetedClient(openai_client(server.url), allocator(), model="terse", state_dir=tmp_path)
    resumed = again.core.arms["main"].allocator
    assert resumed.effective_target == pytest.approx(alloc.effective_target) and resumed.recent == alloc.recent
    assert resumed.stats["requests"] == 3 and resumed.mu == pytest.approx(alloc.mu)


def test_a_missing_or_corrupt_allocator_stops_start_up_with_one_line(tmp_path):
    with pytest.raises(SystemExit, match="no allocator at"):
        load_allocator(tmp_path)
    (tmp_path / "allocator.json").write_text("{not json")
    with pytest.raises(SystemExit, match="not a readable allocator.json") as err:
        BudgetedClient.from_export(tmp_path, client=None)
    assert "\n" not in str(err.value)


def test_ab_arms_split_by_a_stable_key_and_the_report_compares_them(server, tmp_path):
    arms = {"A": Arm("A", allocator(target=8.0), "terse"), "B": Arm("B", allocator(target=2.0), "terse")}
    client = BudgetedClient(openai_client(server.url), arms=arms, log_path=tmp_path / "ab.jsonl")
    seen = {}
    for i in range(16):
        out = client.completions.create(model="terse", prompt="e f g h i", user=f"user-{i % 8}")
        seen.setdefault(f"user-{i % 8}", set()).add(out.terse["arm"])
        client.feedback(out.terse["request_id"], out.terse["arm"] == "A")
    assert all(len(a) == 1 for a in seen.values())  # a user stays in one arm
    assert {a for s in seen.values() for a in s} == {"A", "B"}
    assert arm_of("user-3", ["A", "B"]) == next(iter(seen["user-3"]))
    report = ab_report(tmp_path / "ab.jsonl")
    assert report["arms"]["A"]["em"] == 1.0 and report["arms"]["B"]["em"] == 0.0
    assert report["b_minus_a"]["em"]["diff"] == -1.0
    assert report["arms"]["A"]["requests"] + report["arms"]["B"]["requests"] == 16


def test_the_litellm_hook_states_the_budget_and_observes(tmp_path):
    from train.litellm_hook import TerseBudgetHook

    alloc = allocator()
    alloc.save(tmp_path)
    hook = TerseBudgetHook(str(tmp_path), target=4.0, state_dir=str(tmp_path / "state"))

    async def run():
        data = await hook.async_pre_call_hook(None, None, {"model": "terse", "messages": [{"role": "user", "content": "a b"}],
                                                           "max_tokens": 100}, "completion")
        assert data["messages"][0]["content"].startswith("Answer in at most") and data["max_tokens"] in GRID
        rid = data["metadata"]["terse_request_id"]

        class Usage:
            completion_tokens = 2

        await hook.async_log_success_event({"litellm_params": {"metadata": data["metadata"]}},
                                           type("R", (), {"usage": Usage()})(), 0, 0)
        failed = await hook.async_pre_call_hook(None, None, {"model": "terse", "prompt": "e f g h i"}, "text_completion")
        await hook.async_log_failure_event({"metadata": failed["metadata"]}, None, 0, 0)
        return rid

    asyncio.run(run())
    a = hook.core.arms["main"].allocator
    assert a.stats["requests"] == 1 and a.stats["tokens"] == 2 and a.pending == [] and hook.core.open == {}
    assert summary_from_metrics(hook.metrics.text())["main"]["failures"] == 1


def test_serve_load_windows_are_consecutive_answers_against_T():
    sys.path.insert(0, str(ROOT / "launch"))
    from serve_load import windows

    answers = [{"tokens": 10 if i < 100 else 30, "correct": i % 2 == 0} for i in range(250)]
    w = windows(answers, target=20.0)
    assert [x["from"] for x in w] == [0, 100] and [x["over_T"] for x in w] == [0.5, 1.5] and w[0]["em"] == 0.5


def test_a_restarted_litellm_hook_resumes_from_its_saved_state(tmp_path):
    """The gateway process killed and started again: the new hook reads the state the old one wrote."""
    from train.litellm_hook import TerseBudgetHook

    allocator().save(tmp_path)
    first = TerseBudgetHook(str(tmp_path), target=4.0, state_dir=str(tmp_path / "state"), save_every=3)

    async def serve(hook, n):
        for _ in range(n):
            data = await hook.async_pre_call_hook(None, None, {"model": "terse", "prompt": "e f g h i"}, "completion")
            usage = type("U", (), {"completion_tokens": 8})()
            await hook.async_log_success_event({"metadata": data["metadata"]}, type("R", (), {"usage": usage})(), 0, 0)

    asyncio.run(serve(first, 6))  # saved at the 3rd and 6th answer; then the process "dies" (no close)
    old = first.core.arms["main"].allocator
    second = TerseBudgetHook(str(tmp_path), target=4.0, state_dir=str(tmp_path / "state"))
    new = second.core.arms["main"].allocator
    assert new.stats["requests"] == 6 and new.recent == old.recent
    assert new.effective_target == pytest.approx(old.effective_target) and new.mu == pytest.approx(old.mu)


def test_feedback_finds_its_arm_in_memory_and_after_a_restart_in_the_log(tmp_path, monkeypatch):
    """No server: the Core alone. Feedback is counted under the arm that served the request — from memory for
    recent answers (the log is not read), from the request log for answers older than the memory."""
    import train.serving_core as core_module
    from train.serving_core import Core

    def arms():
        return {"A": Arm("A", allocator(4.0), "m"), "B": Arm("B", allocator(8.0), "m")}

    log = tmp_path / "requests.jsonl"
    core = Core(arms(), metrics=Metrics(), log_path=log)
    served = {}
    for user in ("u1", "u2", "u3", "u4", "u5", "u6"):
        d = core.decide("a b", key=user)
        core.observe(d, tokens=3)
        served[d.request_id] = d.arm
    assert set(served.values()) == {"A", "B"}  # both arms got traffic
    monkeypatch.setattr(type(log), "read_text", lambda self: pytest.fail("the log was read"))
    for request_id, arm in served.items():
        assert core._arm_of_request(request_id) == arm
    monkeypatch.undo()
    monkeypatch.setattr(core_module, "RECENT_REQUESTS", 2)
    small = Core(arms(), metrics=Metrics(), log_path=log)  # a restart: nothing in memory, the log has them all
    for request_id, arm in served.items():
        assert small._arm_of_request(request_id) == arm
    for _ in range(5):
        small.observe(small.decide("c d", key="u9"), tokens=2)
    assert len(small.recent_arms) == 2  # bounded
