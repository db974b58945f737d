"""The house rules of train/ and rewards/ hold (launch/research/house_limits.py): no module over 400 lines, at
most 2 functions over 60 lines and 5 with more than 6 parameters, each exception with its stated reason."""

from launch.research import house_limits


def test_train_and_rewards_keep_the_house_limits():
    m = house_limits.measure()
    assert m["modules"] == []
    assert len(m["long_functions"]) <= house_limits.ALLOWED_LONG
    assert len(m["wide_functions"]) <= house_limits.ALLOWED_WIDE
    unexplained = [name for name, _ in m["long_functions"] + m["wide_functions"] if name not in house_limits.REASONS]
    assert unexplained == [], "give each exception its reason in house_limits.REASONS, or split it"


def test_the_measure_counts_parameters_and_lines(tmp_path):
    root = tmp_path / "pkg"
    root.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    (root / "m.py").write_text(f"def wide(self, a, b, c, d, e, f, g, *args, **kw):\n    pass\n\n"
                               f"def narrow(a, b, c, d, e, f):\n    pass\n\ndef long():\n{body}\n")
    m = house_limits.measure(roots=("pkg",), repo=tmp_path)
    assert m["wide_functions"] == [("pkg/m.py:wide", 7)] and m["long_functions"] == [("pkg/m.py:long", 62)]
