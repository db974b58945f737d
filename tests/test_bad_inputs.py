"""launch/research/bad_inputs.py's table as a test: every bad input exits 2 (or argparse's 2) before anything is
trained or written over. Run in-process (train.run.cli, train.export.main) so the table costs seconds;
`python -m launch.research.bad_inputs` runs the same cases as subprocesses and prints what a user sees."""

from launch.research import bad_inputs


def run_case(cmd: list[str]) -> int:
    from train.export import main as export_main
    from train.run import cli

    if cmd[: len(bad_inputs.EXPORT)] == bad_inputs.EXPORT:
        entry, argv = export_main, cmd[len(bad_inputs.EXPORT):]
    else:
        entry, argv = cli, cmd[len(bad_inputs.RUN):]
    try:
        return entry(argv)
    except SystemExit as stop:  # argparse: unknown flags
        return stop.code


def test_every_bad_input_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)  # a run that wrongly started would write runs/ here, not in the repo
    results = []
    for name, cmd in bad_inputs.cases(tmp_path):
        code = run_case(cmd)
        err = capsys.readouterr().err
        results.append((name, code, err.strip().splitlines()[-1] if err.strip() else ""))
    failed = [(n, c, e) for n, c, e in results if c != 2 or not e]
    assert not failed, failed
    assert not list(tmp_path.rglob("summary.json")) and not list(tmp_path.rglob("adapter_model.safetensors"))
    assert len(results) >= 30
