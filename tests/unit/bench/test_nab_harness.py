"""bench/nab.py's harness: NAB rows as trace events, the real ``tracewatch replay`` agreeing with the
in-process path, findings mapped to rows, the splits, ``score_config``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench import nab

#: small, with windows and findings; exchange-2 also has a duplicated timestamp
CLI_FILES = ("realAdExchange/exchange-4_cpc_results.csv", "realAdExchange/exchange-2_cpc_results.csv")


def test_the_real_cli_finds_what_the_in_process_path_finds(nab_root, tmp_path):
    tracewatch = Path(sys.executable).with_name("tracewatch")
    for f in nab.load_corpus(nab_root, CLI_FILES):
        path = nab.write_jsonl(f, tmp_path / "events.jsonl")
        done = subprocess.run([str(tracewatch), "replay", str(path), "--config", str(nab.DEFAULT_CONFIG)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert f"events: {len(f.timestamps)}" in done.stderr and "bad lines: 0" in done.stderr
        cli = [json.loads(line) for line in done.stdout.splitlines()]
        ours = nab.findings_for(f)
        assert cli == [json.loads(x.model_dump_json()) for x in ours], f.name
        assert nab.detections_for(f, ours) == nab.detections_for(f, [nab_finding(d["time"]) for d in cli])


class nab_finding:  # noqa: N801 - the one attribute detections_for reads
    def __init__(self, time: float) -> None:
        self.time = time


def test_rows_become_trace_events(nab_root):
    [f] = nab.load_corpus(nab_root, ["realTraffic/speed_7578.csv"])
    first = nab.event_dicts(f)[0]
    assert first == {"trace_id": "nab-0", "timestamp": 1441712340, "model": "nab",  # 2015-09-08 11:39:00 UTC
                     "feature": "realTraffic/speed_7578", "metadata": {"value": 73.0}}
    events = nab.events_for(f)
    assert len(events) == len(f.timestamps) == 1127
    assert events[0].feature == "realTraffic/speed_7578" and events[0].metadata == {"value": 73.0}
    assert events[0].timestamp.isoformat() == "2015-09-08T11:39:00+00:00"


def test_findings_become_the_first_row_at_or_after_their_time():
    f = nab.NabFile("c/x.csv", (0.0, 300.0, 300.0, 600.0, 500.0, 900.0), (1.0,) * 6, ())
    assert nab.rows_of(f, [0.0, 1.0, 300.0, 301.0, 500.0, 600.0, 900.0, 901.0]) == [0, 1, 1, 3, 3, 3, 5, 6]
    # two findings on one row are one detection; none past the end
    assert nab.detections_for(f, [nab_finding(t) for t in (301.0, 600.0, 901.0, 0.0)]) == [0, 3]


def test_splits_halve_every_category(nab_root):
    names = list(nab.load_windows(nab_root))
    splits = nab.split_of(names)
    assert Counter(splits.values()) == {"tune": 29, "report": 29}
    for category in {n.split("/")[0] for n in names}:
        per = Counter(s for n, s in splits.items() if n.startswith(category + "/"))
        assert abs(per["tune"] - per["report"]) <= 1, category
    assert nab.split_of(reversed(names)) == splits  # deterministic, whatever the order given


def test_score_config_scores_a_few_files(nab_root):
    result = nab.score_config(nab.DEFAULT_CONFIG, CLI_FILES, processes=1)
    assert set(result["files"]) == set(CLI_FILES)
    for profile in nab.PROFILES:
        t = result["profiles"][profile]
        assert t["windows"] == 4 and t["null"] == -4 * nab.load_profiles(nab_root)[profile].fn
        assert t["perfect"] == 4.0 and t["score"] == nab.normalise(t["raw"], t["null"], t["perfect"])
    for name, r in result["files"].items():
        [f] = nab.load_corpus(nab_root, [name])
        assert r["detections"] == nab.detections_for(f, nab.findings_for(f))
        assert r["split"] in nab.SPLITS
    splits = nab.by_split(result, nab_root)
    assert splits["all"]["profiles"] == result["profiles"]
    # the on-call view: each split's pages are the findings after the probation, judged against NAB's labels
    labels = nab.load_labels(nab_root)
    on_call = splits["all"]["pages"]
    assert on_call.labels == sum(len(labels[n]) for n in CLI_FILES)
    assert on_call == sum((splits[s]["pages"] for s in nab.SPLITS if s in splits), nab.Pages())
    assert 0 <= on_call.false <= on_call.pages and on_call.caught <= on_call.labels


def test_the_shipped_defaults_config_sets_nothing_but_what_to_watch():
    """``bench/nab_shipped_defaults.yaml`` scores the detector as a user gets it: any setting added there would
    make its figures (README, docs/nab.md) those of a tuned detector. Both NAB configs lint."""
    import yaml

    from detectors.config import lint_file, load_config

    [detector] = yaml.safe_load(nab.SHIPPED_CONFIG.read_text())["detectors"]
    assert set(detector) == {"name", "kind", "series", "field"}
    for path in (nab.SHIPPED_CONFIG, nab.DEFAULT_CONFIG):
        assert lint_file(path) == [], path
        assert [d["kind"] for d in load_config(path).detectors] == ["anomaly"], path


def test_one_detector_for_all_files_finds_on_one_file_what_a_fresh_suite_finds(nab_root):
    """``--together``: with one file it is the per-file run; with two, each file's findings come back to its own
    rows, and the detector that watches both spreads its budget over them (so it pages no more than alone)."""
    files = nab.load_corpus(nab_root, CLI_FILES)
    for f in files:
        assert nab.run_together([f], nab.SHIPPED_CONFIG)[f.name]["detections"] == \
            nab.run_detectors([f], nab.SHIPPED_CONFIG, processes=1)[f.name]["detections"]
    both = nab.run_together(files, nab.SHIPPED_CONFIG)
    alone = nab.run_detectors(files, nab.SHIPPED_CONFIG, processes=1)
    assert set(both) == set(CLI_FILES)
    for f in files:
        assert all(0 <= r < len(f.timestamps) for r in both[f.name]["detections"])
    assert sum(r["findings"] for r in both.values()) <= sum(r["findings"] for r in alone.values())
    rows = {name: (both[name]["detections"], alone[name]["detections"]) for name in CLI_FILES}
    assert any(a != b for a, b in rows.values()), rows  # the shared budget changed what pages
