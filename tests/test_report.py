"""The 'what was cut' report: word diffs, per-difficulty summary, and the HTML a run produces."""

from train.report import per_difficulty, render, rows_for, word_diff


def test_word_diff_marks_dropped_and_added_words():
    before, after = word_diff("full 7 + 5 = 12 ; check 12 - 5 = 7 ok ; #### 12", "steps 7 + 5 = 12 ; #### 12")
    assert "<del>full</del>" in before and "<ins>steps</ins>" in after
    assert "<del>check 12 - 5 = 7 ok ;</del>" in before and "<del>" not in after


def test_rows_and_summary_from_two_evaluations():
    prompts = [{"prompt": "1 + 2 ?", "difficulty": 1}, {"prompt": "1 + 2 + 3 ?", "difficulty": 2}]
    base = {"completions": ["a b c #### 3", "a b c d #### 6"],
            "per_example": {"tokens": [6, 8], "correct": [True, True]}}
    trained = {"completions": ["#### 3", "#### 5"], "per_example": {"tokens": [3, 3], "correct": [True, False]}}
    rows = rows_for(prompts, base, trained)
    assert [r["saved"] for r in rows] == [3, 5]
    summary = per_difficulty(rows)
    assert summary[1] == {"difficulty": 2, "n": 1, "base_tokens": 8, "trained_tokens": 3, "base_em": 1, "trained_em": 0}
    page = render(rows, "t <x>")
    assert page.startswith("<!doctype html>") and "t &lt;x&gt;" in page
    assert page.index("1 + 2 + 3 ?") < page.index("1 + 2 ?")  # sorted by tokens saved, most first


def test_report_cli_writes_html_for_a_run(smoke_run, tmp_path):
    from train.report import main

    out, _ = smoke_run
    page = tmp_path / "report.html"
    assert main([str(out), "--size", "6", "--out", str(page)]) == 0
    text = page.read_text()
    assert text.count("<tr><td class=text>") == 6 and "Per difficulty" in text
    assert main([str(tmp_path / "nope")]) == 2
