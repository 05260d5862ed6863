"""bench/nab_tune.py: the search starts at the shipped detector, writes configs that load, and scores the config it
ends at on the half it never saw."""

from __future__ import annotations

import yaml

from bench import nab_tune
from detectors.anomaly import FieldAnomaly
from detectors.config import build_suite, load_config


def test_the_search_starts_at_the_shipped_defaults():
    shipped = {**FieldAnomaly.params, **FieldAnomaly.defaults}
    assert {name: values[0] for name, values in nab_tune.GRID.items()} == {k: shipped[k] for k in nab_tune.GRID}
    assert all(len(set(values)) == len(values) > 1 for values in nab_tune.GRID.values())


def test_a_config_with_settings_loads_with_them(tmp_path):
    base = yaml.safe_load(nab_tune.SHIPPED.read_text())
    path = tmp_path / "c.yaml"
    path.write_text(nab_tune.config_text(base, {"half_life_s": 21600, "escalate": 0}))
    detector = build_suite(load_config(path)).detectors["nab_value"]
    assert (detector.half_life_s, detector.escalate, detector.field) == (21600, 0, "metadata.value")


def test_a_tuning_run_scores_what_it_ends_at_on_both_halves(nab_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(nab_tune, "GRID", {"cooldown_s": (3600, 43200)})
    out = tmp_path / "tuned.yaml"
    assert nab_tune.main(["--on", "report", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    tried = [line.split()[0] for line in printed.splitlines() if "windows, FP" in line and "(" not in line[:30]]
    assert len(tried) == 2, printed  # the shipped cooldown and the other one, each once
    cooldown = load_config(out).detectors[0]["cooldown_s"]
    assert ("cooldown_s" in printed.split("ends at")[1].splitlines()[0]) == (cooldown == 43200)
    assert "report  (tuned on)  standard" in printed and "tune    (held out)  standard" in printed
