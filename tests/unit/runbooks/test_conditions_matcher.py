"""The `when` language is safe and reads plain data; triggers match on every key they set."""

from __future__ import annotations

import pytest
from tests.unit.runbooks.runbook_helpers import make_event

from runbooks.conditions import Condition, ConditionError, condition_data
from runbooks.matcher import match, trigger_matches
from runbooks.schema import Runbook, Trigger


@pytest.mark.parametrize("source, message", [
    ("__import__('os').system('id')", "function calls are not allowed in a condition"),
    ("().__class__", 'names starting with "_" are not allowed: "__class__"'),
    ("labels.__class__", 'names starting with "_" are not allowed: "__class__"'),
    ("labels['__dict__']", 'names starting with "_" are not allowed: "__dict__"'),
    ("lambda: 1", "lambda is not allowed in a condition"),
    ("[x for x in labels]", "comprehensions are not allowed in a condition"),
    ("2 ** 100000", "the ** operator is not allowed in a condition"),
    ("(x := 1)", "assignment (:=) is not allowed in a condition"),
    ("os.system", 'unknown name "os" (known: event, incident, labels, target, evidence, finding, '
                  'severity, kind, detector, series, score, summary, distinct)'),
    ("evidnce.observed > 1", 'unknown name "evidnce" (did you mean "evidence"?)'),
    ("labels.a is None", "is (use ==) is not allowed in a condition"),
    ("f'{labels}'", "f-strings are not allowed in a condition"),
    ("labels.a ==", "invalid condition: invalid syntax"),
])
def test_unsafe_or_invalid_conditions_are_rejected(source, message):
    with pytest.raises(ConditionError) as info:
        Condition(source)
    assert info.value.message == message


def test_no_string_or_list_blow_up():
    assert Condition('summary * 1000000000 == ""').evaluate({"summary": "x"}) is False
    assert Condition("labels + labels").evaluate({"labels": {"a": "b"}}) is False


@pytest.mark.parametrize("source, expected", [
    ("evidence.observed > 3 * evidence.baseline", True),
    ('labels.model == "gpt-4o" and not (severity == "info")', True),
    ('kind in ["cost", "budget"]', True),
    ('kind not in ["latency"]', True),
    ("evidence.missing > 1 or evidence.missing < 1", False),
    ('labels["team-name"] == "search"', True),
    ("distinct.users >= 1", True),
    ("target.session_id == null", True),
    ('severity > 3', False),  # comparing across types is false, not an error
    ("evidence.observed / 0 > 1", False),
])
def test_evaluation(source, expected):
    data = condition_data(make_event(labels={"model": "gpt-4o", "team-name": "search"}))
    assert Condition(source).evaluate(data) is expected


def test_trigger_keys():
    event = make_event(kind="latency", severity="warning", labels={"app": "chat-eu", "env": "prod"})
    assert trigger_matches(Trigger(kind="latency"), event)
    assert not trigger_matches(Trigger(kind="latency", severity_at_least="critical"), event)
    assert not trigger_matches(Trigger(kind="latency", on=["resolved"]), event)
    assert trigger_matches(Trigger(detector=["latency_detector", "x"]), event)
    assert not trigger_matches(Trigger(detector="other"), event)
    assert trigger_matches(Trigger(labels={"app": {"=~": "chat-.*"}, "env": {"in": ["prod", "eu"]}}), event)
    assert not trigger_matches(Trigger(labels={"app": {"=~": "chat"}}), event)  # anchored
    assert trigger_matches(Trigger(labels={"app": {"!~": "batch-.*"}, "env": {"!=": "dev"}}), event)
    assert not trigger_matches(Trigger(labels={"missing": "x"}), event)
    assert trigger_matches(Trigger(labels={"env": {"not_in": ["dev"]}}), event)
    assert trigger_matches(Trigger(when="evidence.observed > 2 * evidence.baseline"), event)


def test_match_keeps_order():
    rbs = [Runbook.model_validate({"name": n, "trigger": t, "steps": [{"page": {}}]})
           for n, t in (("a", {"kind": "cost"}), ("b", {"kind": "latency"}), ("c", {}))]
    assert [rb.name for rb in match(rbs, make_event(kind="cost"))] == ["a", "c"]
