"""A minimal OpenAI-compatible server for a model and its Terse adapter: `/v1/completions`,
`/v1/chat/completions` (streaming too), `/v1/models`, `/health`, with `usage` in every answer.

    python -m train.openai_server exports/cond --port 8000          # the export's base model + adapter
    python -m train.openai_server .cache/terse/smollm2-135m-instruct --port 8000

For the tests, the load check (`launch/serve_load.py`) and trying the serving path on a laptop. Production
serves with vLLM (`vllm serve BASE --enable-lora --lora-modules terse=EXPORT`) or `transformers serve`; this
server exists because those are heavy to start on a 2-core CPU and the tests must start and stop a real server
in seconds. Requests are answered one at a time (a lock around generation); greedy unless `temperature` > 0.
Bad requests get a 400 with an OpenAI-style error body, naming the field.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class BadRequest(ValueError):
    pass


class ModelServer:
    """The model, its tokenizer and the generation lock."""

    def __init__(self, path: str, name: str = "terse", max_tokens_cap: int = 512):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        adapter = path if (path / "adapter_config.json").exists() else None
        base = json.loads((path / "adapter_config.json").read_text())["base_model_name_or_path"] if adapter else str(path)
        self.tokenizer = AutoTokenizer.from_pretrained(str(adapter or path))
        model = AutoModelForCausalLM.from_pretrained(base)
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter))
        self.model = model.eval()
        self.name, self.cap, self.lock, self.torch = name, max_tokens_cap, threading.Lock(), torch

    def generate(self, prompt, max_tokens: int, temperature: float) -> tuple[str, int, int, str]:
        """(text, prompt tokens, completion tokens, finish reason)."""
        tok = self.tokenizer
        if not isinstance(prompt, str):
            prompt = tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
            ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
        else:
            ids = tok(prompt, return_tensors="pt")
        sampling = {"do_sample": True, "temperature": temperature, "top_k": 0} if temperature > 0 else {"do_sample": False}
        with self.lock, self.torch.no_grad():
            out = self.model.generate(**ids, max_new_tokens=max_tokens, pad_token_id=tok.pad_token_id,
                                      eos_token_id=tok.eos_token_id, **sampling)
        from train.generation import completion_ids

        new, cut = completion_ids(out[0, ids["input_ids"].shape[1]:].tolist(), tok.eos_token_id, None)
        finish = "length" if cut else "stop"
        return tok.decode(new, skip_special_tokens=True), ids["input_ids"].shape[1], len(new), finish

    def answer(self, body: dict, chat: bool) -> dict:
        field = "messages" if chat else "prompt"
        if field not in body:
            raise BadRequest(f"missing required field '{field}'")
        prompt = body[field]
        if chat and not (isinstance(prompt, list) and all(isinstance(m, dict) and "content" in m for m in prompt)):
            raise BadRequest("'messages' must be a list of {role, content} objects")
        if not chat and not isinstance(prompt, str):
            raise BadRequest("'prompt' must be a string")
        max_tokens = body.get("max_tokens", 16)
        if not isinstance(max_tokens, int) or not 1 <= max_tokens <= self.cap:
            raise BadRequest(f"'max_tokens' must be an integer in [1, {self.cap}], got {max_tokens!r}")
        temperature = body.get("temperature", 0) or 0
        if not isinstance(temperature, (int, float)) or temperature < 0:
            raise BadRequest(f"'temperature' must be a number >= 0, got {temperature!r}")
        text, n_prompt, n_completion, finish = self.generate(prompt, max_tokens, float(temperature))
        choice = {"index": 0, "finish_reason": finish}
        choice |= {"message": {"role": "assistant", "content": text}} if chat else {"text": text, "logprobs": None}
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "chat.completion" if chat else "text_completion",
                "created": int(time.time()), "model": body.get("model", self.name), "choices": [choice],
                "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_completion,
                          "total_tokens": n_prompt + n_completion}}


def handler_for(server: ModelServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            if self.path.rstrip("/") in ("/health", "/v1/health"):
                self._send(200, {"status": "ok"})
            elif self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": server.name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self):  # noqa: N802
            route = self.path.rstrip("/")
            if route not in ("/v1/completions", "/v1/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            try:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise BadRequest("the request body must be a JSON object")
                result = server.answer(body, chat=route.endswith("chat/completions"))
            except (BadRequest, json.JSONDecodeError) as err:
                self._send(400, {"error": {"message": str(err), "type": "invalid_request_error"}})
                return
            if body.get("stream"):
                self._stream(result, route.endswith("chat/completions"), body)
            else:
                self._send(200, result)

        def _stream(self, result: dict, chat: bool, body: dict) -> None:
            """One content chunk, one finish chunk, and (include_usage) a usage chunk; then [DONE]."""
            kind = "chat.completion.chunk" if chat else "text_completion"
            choice = result["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
            delta = {"delta": {"role": "assistant", "content": text}} if chat else {"text": text}
            chunks = [{"index": 0, **delta, "finish_reason": None},
                      {"index": 0, **({"delta": {}} if chat else {"text": ""}), "finish_reason": choice["finish_reason"]}]
            events = [{"id": result["id"], "object": kind, "created": result["created"], "model": result["model"],
                       "choices": [c]} for c in chunks]
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append({"id": result["id"], "object": kind, "created": result["created"],
                               "model": result["model"], "choices": [], "usage": result["usage"]})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


def serve(path: str, host: str = "127.0.0.1", port: int = 8000, name: str = "terse") -> ThreadingHTTPServer:
    """The server, bound (port 0: a free one, `server.server_address[1]`); call `serve_forever()`."""
    httpd = ThreadingHTTPServer((host, port), handler_for(ModelServer(path, name)))
    httpd.daemon_threads = True
    return httpd


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.openai_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model directory, or an export / adapter directory (its base model + adapter)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--name", default="terse", help="the model name clients send")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    httpd = serve(args.model, args.host, args.port, args.name)
    print(f"serving {args.model} as {args.name!r} on http://{args.host}:{httpd.server_address[1]}/v1", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
