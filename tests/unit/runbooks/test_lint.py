"""Every failure mode of the loader, one invalid file each, with its exact message."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from runbooks.loader import load_directory, load_file
from streams.cli import app

INVALID = Path(__file__).resolve().parents[2] / "data" / "runbooks" / "invalid"

EXPECTED = {
    'alias_bomb.yaml': 'alias_bomb.yaml:9: invalid YAML: aliases expand to more than 10,000 nodes (an alias bomb?)',
    'bad_duration.yaml': 'bad_duration.yaml:5: steps[0].block.ttl: expected a duration like "30s", "15m" or "2h", got \'soon\'',
    'bad_name.yaml': 'bad_name.yaml:1: name: a runbook name uses lowercase letters, digits, - and _ (got "Broken Name")',
    'bad_on_failure.yaml': "bad_on_failure.yaml:6: steps[0].on_failure: must be one of 'continue' or 'abort', got 'retry'",
    'bad_regex.yaml': 'bad_regex.yaml:5: trigger.labels.app.=~: invalid regular expression "chat-(eu": missing ): chat-(eu',
    'bad_severity.yaml': "bad_severity.yaml:4: trigger.severity_at_least: must be one of 'info', 'warning' or 'critical', got 'urgent'",
    'bad_template.yaml': "bad_template.yaml:6: steps[0].block.reason: template error (template line 1): unexpected end of template, expected 'end of print statement'.",
    'bad_yaml.yaml': "bad_yaml.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>'",
    'condition_call.yaml': 'condition_call.yaml:4: trigger.when: function calls are not allowed in a condition',
    'condition_dunder.yaml': 'condition_dunder.yaml:4: trigger.when: names starting with "_" are not allowed: "__class__"',
    'condition_lambda.yaml': 'condition_lambda.yaml:6: steps[0].when: lambda is not allowed in a condition',
    'duplicate_key.yaml': 'duplicate_key.yaml:2: duplicate key "name"',
    'missing_trigger.yaml': 'missing_trigger.yaml:1: missing required key "trigger"',
    'no_action.yaml': 'no_action.yaml:5: steps[0]: a step needs one action key (one of: page, resolve_page, slack, block, unblock, rollback_prompt, promote_prompt, pin_model, unpin_model, webhook, wait_for_ack)',
    'no_steps.yaml': 'no_steps.yaml:3: steps: needs at least 1 item(s)',
    'not_mapping.yaml': 'not_mapping.yaml:1: a runbook file must be a mapping (name, trigger, steps, ...), got a list',
    'recursive_alias.yaml': 'recursive_alias.yaml:6: invalid YAML: recursive alias *steps: it refers to &steps, which contains it',
    'test_unknown_action.yaml': 'test_unknown_action.yaml:9: tests[0].expect[0].type: unknown step "pgae" (did you mean "page"?)',
    'test_without_input.yaml': 'test_without_input.yaml:7: tests[0]: a test needs exactly one of `incident:` or `findings:`',
    'too_many_retries.yaml': 'too_many_retries.yaml:6: steps[0].retries: must be at most 10, got 50',
    'two_actions.yaml': 'two_actions.yaml:5: steps[0]: a step takes exactly one action, found page, slack; write one step per action',
    'unknown_key.yaml': 'unknown_key.yaml:2: unknown key "descripton" (did you mean "description"?)',
    'unknown_kind.yaml': 'unknown_kind.yaml:3: trigger.kind: unknown kind "cots" (did you mean "cost"?)',
    'unknown_param.yaml': 'unknown_param.yaml:6: steps[0].block: unknown key "ttll" (did you mean "ttl"?)',
    'unknown_step.yaml': 'unknown_step.yaml:5: steps[0]: unknown step "pagr" (did you mean "page"?)',
    'wait_without_timeout.yaml': 'wait_without_timeout.yaml:5: steps[0].wait_for_ack: missing required key "timeout"',
}


def test_every_invalid_file_has_an_expected_message():
    assert sorted(EXPECTED) == sorted(p.name for p in INVALID.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_file_reports_exact_message(name):
    runbook, problems = load_file(INVALID / name)
    assert runbook is None
    assert [str(p) for p in problems] == [EXPECTED[name]]


def test_lint_cli_prints_every_problem_and_exits_1():
    result = CliRunner().invoke(app, ["runbooks", "lint", str(INVALID)])
    assert result.exit_code == 1
    printed = [line for line in result.stdout.splitlines() if line.endswith(tuple(EXPECTED.values()))]
    assert sorted(printed) == sorted(EXPECTED.values())


def test_all_problems_of_one_file_are_reported_together(tmp_path):
    (tmp_path / "many.yaml").write_text(
        "name: many\n"
        "trigger:\n"
        "  kind: cost\n"
        "  severity_at_least: high\n"
        "steps:\n"
        "  - page: {}\n"
        "    wehn: x\n"
        "  - blok: {}\n"
    )
    problems = [str(p) for p in load_directory(tmp_path).problems]
    assert problems == [
        "many.yaml:4: trigger.severity_at_least: must be one of 'info', 'warning' or 'critical', got 'high'",
        'many.yaml:7: steps[0]: unknown key "wehn" (did you mean "when"?)',
        'many.yaml:8: steps[1]: unknown step "blok" (did you mean "block"?)',
    ]


def test_duplicate_runbook_names_across_files(tmp_path):
    body = "name: same\ntrigger: {kind: cost}\nsteps:\n  - page: {}\n"
    (tmp_path / "a.yaml").write_text(body)
    (tmp_path / "b.yaml").write_text(body)
    result = load_directory(tmp_path)
    assert [r.name for r in result.runbooks] == ["same"]
    assert [str(p) for p in result.problems] == ['b.yaml:1: name: duplicate runbook name "same" (also in a.yaml)']


def test_yaml_on_key_is_a_string_not_true(tmp_path):
    (tmp_path / "on.yaml").write_text("name: x\ntrigger:\n  on: resolved\nsteps:\n  - resolve_page\n")
    result = load_directory(tmp_path)
    assert result.problems == []
    assert result.runbooks[0].trigger.on == ["resolved"]
