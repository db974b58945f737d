"""The layering the code relies on: rewards/ never imports train/, and no two modules import each other
(directly or round a longer loop), counting imports inside functions too — a lazy import is still an arrow."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("train", "rewards")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Our modules that `path` imports anywhere in its body (`from a.b import c` counts a.b.c when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in known}
    return found


def graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known) - {module_name(p)} for p in files}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One loop of imports, or None (a package's __init__ importing its own submodules is not a loop back)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt.startswith(node + "."):  # a package importing its own submodule
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_rewards_never_imports_train():
    upward = {(m, t) for m, targets in graph().items() if m.startswith("rewards") for t in targets
              if t.startswith("train")}
    assert not upward, f"rewards/ must not import train/: {sorted(upward)}"


def test_no_import_cycles():
    edges = graph()
    # a submodule importing its own package's __init__ (for a shared name) would hide a loop: follow it too
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges))}"


def test_the_cycle_finder_finds_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert find_cycle({"p": {"p.x"}, "p.x": set()}) is None


def test_the_io_module_stays_light_and_keeps_transformers_checkpoint_prefix():
    """train/files.py copies transformers' checkpoint prefix so that importing it does not load torch
    (4.9 s on 2 cores); the copy must stay equal to the original."""
    import subprocess
    import sys

    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    from train import files

    assert files.PREFIX_CHECKPOINT_DIR == PREFIX_CHECKPOINT_DIR
    probe = "import sys, train.files; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
