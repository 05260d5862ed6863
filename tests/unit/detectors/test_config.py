"""The detector config: shipped file valid, strict lint with exact file:line messages, overrides."""

from __future__ import annotations

import textwrap

import pytest

from detectors import ConfigError, build_suite, lint_file, lint_text, load_config
from detectors.config import SHIPPED


def lint(text: str) -> list[str]:
    return lint_text(textwrap.dedent(text).lstrip("\n"), "d.yaml")


def test_the_shipped_config_is_valid_and_covers_every_kind():
    assert lint_file(SHIPPED) == []
    kinds = {d["kind"] for d in load_config(SHIPPED).detectors}
    assert kinds >= {"cost", "budget", "runaway", "latency", "errors", "quality", "injection"}


@pytest.mark.parametrize("text, expected", [
    ("""
     detectors:
       - name: spend
         kind: cost
         thresold: 3
     """, ['d.yaml:4: detectors[0].thresold: unknown key "thresold"']),
    ("""
     detectors:
       - name: spend
         kind: cost
         ratoi: 3
     """, ['d.yaml:4: detectors[0].ratoi: unknown key "ratoi" (did you mean "ratio"?)']),
    ("""
     bucket_s: 5
     detectors:
       - name: spend
         kind: cots
     """, ['d.yaml:4: detectors[0].kind: unknown kind "cots" (did you mean "cost"?); allowed: cost, budget, '
           'runaway, latency, errors, quality, anomaly, injection, model_update']),
    ("""
     detectors:
       - name: a
         kind: cost
       - name: a
         kind: latency
     """, ['d.yaml:4: detectors[1].name: duplicate detector name "a" (first defined on line 2)']),
    ("""
     detectors:
       - kind: cost
     """, ['d.yaml:2: detectors[0]: missing required key "name"']),
    ("""
     detectors:
       - name: a
         kind: anomaly
         false_alarms_per_week: 0
         record_budget: -1
         escalate: 0.5
     """, ["d.yaml:4: detectors[0].false_alarms_per_week: must be greater than 0, got 0",
           "d.yaml:5: detectors[0].record_budget: must be 0 or more, got -1",
           "d.yaml:6: detectors[0].escalate: must be 0 (never) or more than 1 (times the last page's score), got 0.5"]),
    ("""
     detectors:
       - name: q
         kind: quality
         series: prompt_id@prompt_version
     """, ['d.yaml:4: detectors[0].series: a quality detector compares prompt versions, so its series must not '
           'contain "prompt_version" (use e.g. "prompt_id")']),
    ("""
     detectors:
       - name: c
         kind: cost
         series: modle
     """, ["d.yaml:4: detectors[0].series: series field 'modle' is not one of model, provider, app, environment, "
           "feature, prompt_id, prompt_version, user_id, session_id or metadata.<name>"]),
    ("""
     bucket_s: 5
     detectors:
       - name: c
         kind: latency
         window_s: 12
     """, ["d.yaml:5: detectors[0].window_s: window_s 12 must be a whole multiple of bucket_s 5.0"]),
    ("""
     detectors:
       - name: b
         kind: budget
         limit: lots
         period: week
     """, ["d.yaml:4: detectors[0].limit: expected a number, got text",
           'd.yaml:5: detectors[0].period: "week" is not allowed; allowed: hour, day']),
    ("""
     detectors:
       - name: a
         kind: anomaly
         field: cost
         direction: sideways
     """, ["d.yaml:4: detectors[0].field: field 'cost' is not one of latency_ms, ttft_ms, cost_usd, input_tokens, "
           "output_tokens, total_tokens, scores.<name> or metadata.<name>",
           'd.yaml:5: detectors[0].direction: "sideways" is not allowed; allowed: up, down, both']),
    ("""
     detectors:
       - name: e
         kind: errors
         severity: {warning: 2, urgent: 5}
         warmup: 1.5
     """, ['d.yaml:4: detectors[0].severity.urgent: unknown severity "urgent"; allowed: info, warning, critical',
           "d.yaml:5: detectors[0].warmup: expected a whole number, got a number"]),
    ("""
     injection:
       enabled: yes please
       options: {min_scor: 0.7}
     """, ["d.yaml:2: injection.enabled: expected true or false, got text",
           'd.yaml:3: injection.options.min_scor: unknown key "min_scor" (did you mean "min_score"?)']),
    ("""
     detector: []
     """, ['d.yaml:1: detector: unknown key "detector" (did you mean "detectors"?)']),
    ("""
     detectors:
       - name: [x
     """, ["d.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>'"]),
])
def test_lint_messages_are_exact(text, expected):
    assert lint(text) == expected


def test_load_config_raises_with_every_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("bucket_s: -1\ndetectors:\n  - name: x\n    kind: nope\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.errors == [
        f"{path}:1: bucket_s: must be greater than 0, got -1",
        f'{path}:4: detectors[0].kind: unknown kind "nope"; allowed: cost, budget, runaway, latency, errors, '
        'quality, anomaly, injection, model_update']


def test_environment_variable_selects_the_config(tmp_path, monkeypatch):
    path = tmp_path / "mine.yaml"
    path.write_text("bucket_s: 2\ninjection: {enabled: false}\ndetectors:\n"
                    "  - {name: lat, kind: latency, series: model, window_s: 10}\n")
    monkeypatch.setenv("TRACEWATCH_DETECTORS", str(path))
    suite = build_suite(load_config())
    assert suite.bucket_s == 2 and list(suite.detectors) == ["lat"] and suite.injection is None
    assert suite.detectors["lat"].window_s == 10
