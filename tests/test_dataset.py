"""Your own data (train/tasks/dataset.py): files, folders, columns, templates, val carving, and every bad
input named with its fix. The CLI cases run `train.run.cli` in-process and stop before any model loads."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from train.tasks.dataset import DataError, DatasetTask, DataSpec, load, plain_prompts, read_file, self_check, to_rows

FIXTURES = Path(__file__).parent / "fixtures"
CAPITALS = FIXTURES / "own_data" / "capitals.csv"  # a 40-row copy of configs/data/capitals.csv


def spec(path, **kw):
    return DataSpec(str(path), **{"prompt_column": "Quiz item", "answer_column": "Expected reply",
                                  "answer_check": "text", **kw})


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_with_unusual_columns():
    train, val = load(spec(CAPITALS), seed=0, val_size=5)
    assert len(train) == 35 and len(val) == 5
    row = val[0]
    assert row["prompt"][-1] == {"role": "user", "content": row["Quiz item"]} and row["answer_check"] == "text"
    assert row["answer"] == row["Expected reply"] and "region" in row  # other columns travel with the row


def test_val_is_drawn_by_seed_and_never_trained_on():
    train0, val0 = load(spec(CAPITALS), seed=0, val_size=5)
    _, val0_again = load(spec(CAPITALS), seed=0, val_size=5)
    _, val1 = load(spec(CAPITALS), seed=1, val_size=5)
    assert [r["source_row"] for r in val0] == [r["source_row"] for r in val0_again]
    assert [r["source_row"] for r in val0] != [r["source_row"] for r in val1]
    assert not {r["source_row"] for r in val0} & {r["source_row"] for r in train0}


def test_default_val_size_is_a_tenth_up_to_200():
    train, val = load(spec(CAPITALS), seed=0)
    assert len(val) == 4 and len(train) == 36


def test_template_system_prompt_and_answer_pattern(tmp_path):
    path = tmp_path / "gsm.jsonl"
    path.write_text("".join(json.dumps({"question": f"q{i}", "sol": f"work\n#### {i},000"}) + "\n" for i in range(1, 11)))
    s = DataSpec(str(path), prompt_template="Solve: {question}", answer_column="sol", answer_pattern=r"####\s*(.+)",
                 system_prompt="Be brief.")
    rows = to_rows(read_file(path), s, "x")
    assert rows[0]["prompt"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Solve: q1"}]
    assert rows[0]["answer"] == "1,000"
    assert self_check(rows, "numeric", "x") == 0.0


def test_chat_message_prompts_and_lists_of_answers(tmp_path):
    path = tmp_path / "chat.json"
    rows = [{"messages": [{"role": "user", "content": "Capital of France?"}], "golds": ["Paris", "paris, france"]},
            {"messages": [{"role": "user", "content": "Capital of Peru?"}], "golds": {"text": ["Lima"], "answer_start": [0]}}]
    path.write_text(json.dumps({"data": rows}))
    out = to_rows(read_file(path), DataSpec(str(path), prompt_column="messages", answer_column="golds",
                                            system_prompt="Short answers."), "x")
    assert out[0]["prompt"][0]["role"] == "system" and out[0]["prompt"][1]["content"] == "Capital of France?"
    assert out[0]["answer"] == ["Paris", "paris, france"] and out[1]["answer"] == ["Lima"]


def test_save_to_disk_folder_and_split_files(tmp_path):
    from datasets import Dataset, DatasetDict

    data = [{"prompt": f"p{i}", "answer": str(i)} for i in range(20)]
    DatasetDict({"train": Dataset.from_list(data), "test": Dataset.from_list(data[:3])}).save_to_disk(tmp_path / "dd")
    task = DatasetTask(DataSpec(str(tmp_path / "dd"), dataset_test_split="test"))
    train, val = task.load(seed=0, val_size=2)
    assert len(train) == 18 and len(task.test_rows(0)) == 3
    (tmp_path / "files").mkdir()
    shutil.copy(CAPITALS, tmp_path / "files" / "train.csv")
    shutil.copy(CAPITALS, tmp_path / "files" / "validation.csv")
    train, val = load(spec(tmp_path / "files", dataset_val_split="validation"), seed=0)
    assert len(train) == 40 and len(val) == 40


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"prompt": f"p{i}", "answer": i} for i in range(10)]), tmp_path / "d.parquet")
    train, val = load(DataSpec(str(tmp_path / "d.parquet")), seed=0, val_size=2)
    assert {r["answer"] for r in train + val} == {str(i) for i in range(10)}


def test_rl_dataset_carries_the_check_and_columns():
    train, _ = load(spec(CAPITALS), seed=0, val_size=5)
    ds = DatasetTask(spec(CAPITALS)).rl_dataset(train)
    assert {"prompt", "answer", "answer_check", "region"} <= set(ds.column_names)


def test_plain_prompts_for_a_model_without_chat_template():
    rows = [{"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], "answer": "a"}]
    assert plain_prompts(rows)[0]["prompt"] == "S\n\nU\n"


# -- bad input: one error naming the problem -----------------------------------------------------------------
def test_missing_file():
    with pytest.raises(DataError, match="no such file 'nowhere.csv'"):
        load(spec("nowhere.csv"), seed=0)


def test_missing_split(tmp_path):
    shutil.copy(CAPITALS, tmp_path / "train.csv")
    with pytest.raises(DataError, match=r"no file for split 'dev' \(looked for dev.jsonl.*found \['train.csv'\]"):
        load(spec(tmp_path, dataset_val_split="dev"), seed=0)
    with pytest.raises(DataError, match="is one file, the train split"):
        load(spec(CAPITALS, dataset_val_split="dev"), seed=0)


@pytest.mark.parametrize("kw, message", [
    ({"prompt_column": "question"}, r"no prompt column 'question'.*columns: \['Expected reply', 'Quiz item', 'region'\]"),
    ({"answer_column": "gold"}, r"no answer column 'gold' \(set answer_column\); columns: \["),
    ({"prompt_template": "{Question}"}, r"prompt_template names column 'Question'.*columns: \["),
    ({"prompt_template": "{0"}, "not a valid format string"),
    ({"answer_pattern": "(("}, "answer_pattern '\\(\\(' is not a valid regular expression"),
])
def test_missing_columns_are_named(kw, message):
    with pytest.raises(DataError, match=message):
        load(spec(CAPITALS, **kw), seed=0)


def test_bad_rows_are_named_and_can_be_skipped(tmp_path, caplog):
    rows = [[f"q{i}", f"a{i}"] for i in range(30)]
    rows[3][1] = ""
    rows[7][0] = "  "
    path = write_csv(tmp_path / "d.csv", ["q", "a"], rows)
    s = DataSpec(str(path), prompt_column="q", answer_column="a", answer_check="text")
    with pytest.raises(DataError, match=r"2 of 30 rows .*rows 3 \(no answer\), 7 \(no prompt\).*--skip_bad_rows true"):
        load(s, seed=0)
    train, val = load(DataSpec(**{**s.__dict__, "skip_bad_rows": True}), seed=0, val_size=3)
    assert len(train) + len(val) == 28 and "skipped 2 bad rows" in caplog.text


def test_at_most_five_bad_rows_are_listed(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["q", "a"], [[f"q{i}", ""] for i in range(9)] + [["q", "a"]])
    with pytest.raises(DataError, match=r"rows 0 \(no answer\), 1 .*, 4 \(no answer\) \.\.\."):
        load(DataSpec(str(path), prompt_column="q", answer_column="a", answer_check="text"), seed=0)


def test_not_utf8_names_file_and_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("q,a\nWhere is Zürich?,Switzerland\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.csv: not valid UTF-8 at byte offset 14"):
        load(DataSpec(str(path), prompt_column="q", answer_column="a", answer_check="text"), seed=0)


def test_bad_json_lines_are_named(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"prompt": "p", "answer": "1"}\n{"prompt": oops}\n')
    with pytest.raises(DataError, match=r"d.jsonl line 2: not valid JSON"):
        load(DataSpec(str(path)), seed=0)


def test_empty_dataset_and_too_few_rows(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(DataError, match="the dataset is empty"):
        load(DataSpec(str(tmp_path / "e.jsonl")), seed=0)
    (tmp_path / "two.jsonl").write_text('{"prompt": "p", "answer": "1"}\n{"prompt": "q", "answer": "2"}\n')
    with pytest.raises(DataError, match="cannot give 5 val rows"):
        load(DataSpec(str(tmp_path / "two.jsonl")), seed=0, val_size=5)


def test_self_check_stops_a_check_that_does_not_fit():
    with pytest.raises(DataError, match=r"answer_check 'numeric' does not fit the data: 40 of 40.*row \d+: '\w+"):
        load(spec(CAPITALS, answer_check="numeric"), seed=0)


def test_self_check_tolerates_one_percent():
    rows = [{"answer": str(i), "source_row": i} for i in range(200)] + [{"answer": "x", "source_row": 200}]
    assert self_check(rows, "numeric", "x") == pytest.approx(1 / 201)
    rows.append({"answer": "y", "source_row": 201})
    rows.append({"answer": "z", "source_row": 202})
    with pytest.raises(DataError, match="3 of 203"):
        self_check(rows, "numeric", "x")


def test_self_check_writes_choice_indices_as_letters():
    rows = [{"answer": str(i % 4), "source_row": i} for i in range(10)]
    assert self_check(rows, "choice", "x") == 0.0


def test_unknown_answer_check_lists_them():
    with pytest.raises(ValueError, match="unknown answer_check 'exact'; choose one of numeric, text, contains, choice"):
        load(spec(CAPITALS, answer_check="exact"), seed=0)


# -- the run's command line: exit 2 and one line naming the problem ------------------------------------------
@pytest.mark.parametrize("extra, message", [
    (["--dataset_name", "missing.csv"], "no such file 'missing.csv'"),
    (["--dataset_name", str(CAPITALS), "--prompt_column", "q"], "no prompt column 'q'"),
    (["--dataset_name", str(CAPITALS), "--prompt_column", "Quiz item", "--answer_column", "Expected reply",
      "--answer_check", "nope"], "unknown answer_check 'nope'"),
    (["--dataset_name", str(CAPITALS), "--prompt_column", "Quiz item", "--answer_column", "Expected reply",
      "--answer_check", "no_such_pkg_q:f"], "cannot import module 'no_such_pkg_q'"),
    (["--dataset_name", str(CAPITALS), "--prompt_column", "Quiz item", "--answer_column", "Expected reply"],
     "answer_check 'numeric' does not fit the data"),
    (["--answer_check", "text"], "answer_check 'text' needs your own data (dataset_name)"),
])
def test_run_cli_exits_2_naming_the_problem(tmp_path, capsys, extra, message):
    from train.run import cli

    code = cli(["--output_dir", str(tmp_path / "out"), "--report_to", "none", *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert not (tmp_path / "out" / "summary.json").exists()


def test_every_task_and_your_own_data_share_the_task_interface():
    from train import tasks
    from train.tasks.dataset import DatasetTask, DataSpec

    for name, task in tasks.TASKS.items():
        assert isinstance(task, tasks.Task), name
    assert isinstance(DatasetTask(DataSpec(dataset_name="configs/data/capitals.csv")), tasks.Task)
    assert not isinstance(object(), tasks.Task)
