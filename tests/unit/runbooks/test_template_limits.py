"""Hostile runbook templates: refused at lint with file:line, or stopped at render within bounded work.

Bounds are shown by behaviour, never by a clock: how many times a data callable ran, what the error
says, and (in a subprocess) that rendering fits under an address-space limit far below what the
template asks for.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from runbooks.templating import limits, sandbox
from runbooks.actions.base import ActionError
from runbooks.actions.block import Block
from runbooks.engine import Engine
from runbooks.execution import InMemoryOutbox
from runbooks.loader import load_text
from runbooks.schema import Runbook
from runbooks.templating import (
    MAX_RENDERED_CHARS, MAX_STEPS, MAX_TEMPLATE_CHARS, PAGERDUTY_SUMMARY_MAX, RenderError, TemplateLimitError,
    render,
)

from tests.unit.runbooks.runbook_helpers import Scripted, make_event

NESTED_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}"

# (template, what the error says): constant work that can never be safe, refused before it runs.
NEVER_SAFE = [
    ("{{ 10**(10**8) > 1 }}", "would be an integer of more than 4,096 bits"),
    ("{{ 'a'*10**8 }}", "repeating a value 100,000,000 times would be larger than 1,000,000"),
    ("{{ ([1]*10**8)|length }}", "repeating a value 100,000,000 times"),
    ("{{ 'a'*10**10 }}", "repeating a value 10,000,000,000 times"),
    (NESTED_LOOPS, f"these nested loops run 10,000,000,000 times; a render may take at most {MAX_STEPS:,}"),
    ("{{ range(10**7)|list }}", "range() of 10,000,000 items"),
    ("{{ 'a'|center(10**9) }}", "|center: the argument 1000000000 is larger than 1,000,000"),
    ("{{ '%0999999999d' % 1 }}", "a width, precision or indent of 999999999 is over 1,000"),
    ("{{ 'a' ~ 'b'*10**7 }}", "repeating a value 10,000,000 times"),
]


def runbook_yaml(template: str) -> str:
    return textwrap.dedent("""\
        name: hostile
        trigger: {kind: cost}
        steps:
          - block:
              reason: %s
        """) % json.dumps(template)


@pytest.mark.parametrize(("template", "reason"), NEVER_SAFE)
def test_lint_refuses_what_can_never_be_safe_with_file_and_line(template: str, reason: str) -> None:
    runbook, problems = load_text(runbook_yaml(template), "hostile.yaml")
    assert runbook is None
    [problem] = problems
    assert (problem.file, problem.line, problem.path) == ("hostile.yaml", 5, "steps[0].block.reason")
    assert problem.message.startswith("template error (template line 1): ")
    assert reason in problem.message


@pytest.mark.parametrize(("template", "reason"), NEVER_SAFE)
def test_render_refuses_the_same_templates(template: str, reason: str) -> None:
    """The engine renders what was linted, but a render must hold on its own (a runbook loaded
    without lint, a template built from settings)."""
    with pytest.raises(TemplateLimitError):
        render(template, {}, "plain")


def test_lint_refuses_a_template_over_the_size_limit() -> None:
    _, [problem] = load_text(runbook_yaml("{{ x }}" + "x" * MAX_TEMPLATE_CHARS), "big.yaml")
    assert problem.line == 5 and f"the limit is {MAX_TEMPLATE_CHARS:,}" in problem.message


def test_lint_reports_a_template_nested_too_deeply_instead_of_a_recursion_error() -> None:
    _, [problem] = load_text(runbook_yaml("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"), "deep.yaml")
    assert (problem.file, problem.line) == ("deep.yaml", 5)
    assert "nested too deeply" in problem.message


class Tick:
    """A data callable: counts how often the template ran the code around it."""

    def __init__(self, result: object = "") -> None:
        self.calls = 0
        self.result = result

    def __call__(self) -> object:
        self.calls += 1
        return self.result


def test_nested_loops_stop_at_the_step_budget() -> None:
    tick = Tick()
    template = "{% for i in range(100000) %}{% for j in range(100000) %}{{ tick() }}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateLimitError, match=f"more than {MAX_STEPS:,} steps"):
        render(template, {"tick": tick}, "plain")
    assert 1_000 < tick.calls < MAX_STEPS  # it ran, and stopped long before 10**10


def test_loops_over_data_stop_at_the_step_budget() -> None:
    tick = Tick()
    template = "{% for a in text %}{% for b in text %}{% for c in text %}{{ tick() }}{% endfor %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateLimitError, match="steps"):
        render(template, {"tick": tick, "text": "x" * 10_000}, "plain")
    assert tick.calls < MAX_STEPS


def test_exponential_macro_recursion_stops_at_the_step_budget() -> None:
    tick = Tick()
    template = ("{% macro f(n) %}{{ tick() }}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
                "{{ f(60) }}")
    with pytest.raises(TemplateLimitError, match="steps"):
        render(template, {"tick": tick}, "plain")
    assert tick.calls < MAX_STEPS


def test_infinite_recursion_is_a_render_error_not_a_crash() -> None:
    with pytest.raises(RenderError, match="recursion too deep"):
        render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}, "plain")


def test_memory_error_while_rendering_is_a_render_error() -> None:
    def boom() -> None:
        raise MemoryError

    with pytest.raises(RenderError, match="too much memory"):
        render("{{ boom() }}", {"boom": boom}, "plain")


def test_output_is_capped_as_it_is_produced() -> None:
    tick = Tick("x" * 1000)
    with pytest.raises(RenderError, match=f"longer than {MAX_RENDERED_CHARS}"):
        render("{% for i in range(100000) %}{{ tick() }}{% endfor %}", {"tick": tick}, "plain")
    assert tick.calls == MAX_RENDERED_CHARS // 1000 + 1  # stopped at the first chunk over the cap


def test_pagerduty_output_stops_at_the_cap_and_is_cut() -> None:
    tick = Tick("x" * 1000)
    out = render("{% for i in range(100000) %}{{ tick() }}{% endfor %}", {"tick": tick}, "pagerduty")
    assert len(out) == PAGERDUTY_SUMMARY_MAX and out.endswith("…")
    assert tick.calls == MAX_RENDERED_CHARS // 1000 + 1


@pytest.mark.parametrize(("template", "reason"), [
    ("{{ summary * 10**8 }}", "repeating a value 100,000,000 times"),
    ("{{ summary * n }}", "repeating a value"),
    ("{% set a = summary %}" + "{% set a = a ~ a %}" * 30 + "{{ a }}", "the ~ concatenation would be larger"),
    ("{% set a = summary %}" + "{% set a = a + a %}" * 30 + "{{ a }}", "the sum would be larger"),
    ("{% set a = [summary] %}" + "{% set a = [a, a] %}" * 40 + "{{ a }}", "would be larger"),
    ("{% set ns = namespace(s=summary) %}{% set xs = [ns] * 10000 %}{{ xs }}", "would be larger"),
    ("{{ summary.ljust(10**9) }}", ".ljust(): the argument 1000000000 is larger"),
    ("{{ (1).to_bytes(10**9, 'big') }}", ".to_bytes(): the argument"),
    ("{{ summary.replace('', summary * 100) }}", ".replace() would be larger"),
    ("{{ ('\\t' * 1000).expandtabs(10**5) }}", ".expandtabs() would be larger"),
    ("{{ (summary * 1000).join(range(10000)|map('string')) }}", ".join() would be larger"),
    ("{{ '{:>999999999}'.format(1) }}", "a width, precision or indent of 999999999"),
    ("{{ '{0}{0}{0}{0}{0}'.format(summary * 300) }}", "a format with 5 field(s) would be larger"),
    ("{{ '%(a)s%(a)s%(a)s%(a)s%(a)s' % {'a': summary * 300} }}", "a format with 5 field(s)"),
    ("{{ '%*d' % (10**9, 1) }}", "'*' width or precision is not allowed"),
    ("{{ ('x\\n' * 1000)|indent(10**4) }}", "|indent would be larger"),
    ("{{ (summary * 10)|wordwrap(1, wrapstring=summary * 100) }}", "|wordwrap would be larger"),
    ("{{ (summary * 1000)|urlize }}", "steps"),
    ("{{ range(10000)|join(summary * 1000) }}", "|join would be larger"),
    ("{{ [[1] * 1000] * 100 | sum(start=[]) }}", "|sum adds numbers only"),
    ("{{ [1, 2]|tojson(indent=10**5) }}", "|tojson: indent 100000 is over 8"),
    ("{{ [1]|batch(10**9) }}", "|batch: the argument 1000000000 is larger"),
    ("{{ 2 ** 100000 }}", "would be an integer of more than 4,096 bits"),
    ("{{ (2 ** 4000) * (2 ** 4000) }}", "the product would be an integer"),
    ("{% for i in range(10**6) %}{% endfor %}", "range() of 1,000,000 items"),
    ("{{ lipsum(n=10**6) }}", "'lipsum' is undefined"),
])
def test_hostile_operations_are_refused_before_they_run(template: str, reason: str) -> None:
    data = {"summary": "s" * 1000, "n": 10**9}
    with pytest.raises(RenderError) as caught:
        render(template, data, "plain")
    assert reason in str(caught.value)


def test_ordinary_templates_still_render() -> None:
    data = {"incident": {"id": "inc-1", "summary": "spend up"}, "evidence": {"observed": 81.5},
            "labels": {"app": "chat", "model": "m"}, "items": list(range(20))}
    out = render(
        "{{ incident.id }}: {{ incident.summary|upper }} ({{ '%.1f'|format(evidence.observed) }})"
        "{% for k, v in labels|dictsort %} {{ k }}={{ v }}{% endfor %}"
        " {{ items|select('odd')|map('string')|join(',') }} {{ '{:>6}'.format('x') }} {{ [1, 2] ~ '' }}"
        " {{ 'ab' * 3 }} {{ 2 ** 10 }} {{ items[2:4] }} {{ 'end' in incident.summary }}",
        data, "plain")
    assert out == ("inc-1: SPEND UP (81.5) app=chat model=m 1,3,5,7,9,11,13,15,17,19      x [1, 2]"
                   " ababab 1024 [2, 3] true")


def test_the_library_and_its_tests_stay_far_inside_the_budget() -> None:
    """A realistic template uses a tiny share of the budget."""
    budget = limits._Budget(MAX_STEPS)
    token = limits._BUDGET.set(budget)
    try:
        compiled = sandbox._compile(
            "{% for k, v in labels.items() %}{{ k }}={{ v }} {% endfor %}{{ incident.summary|truncate(80) }}",
            "slack")
        "".join(compiled.generate({"labels": {f"k{i}": i for i in range(20)}, "incident": {"summary": "x" * 500}}))
    finally:
        limits._BUDGET.reset(token)
    assert MAX_STEPS - budget.left < 1_000


MEMORY_SCRIPT = r"""
import json, resource, sys
from runbooks.templating import RenderError, render
data = {"summary": "s" * 1000}
render("{{ summary|upper }}", data, "plain")  # warm up: imports, compilation machinery
with open("/proc/self/statm") as fh:
    used = int(fh.read().split()[0]) * resource.getpagesize()
headroom = 64 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (used + headroom, used + headroom))
results = []
for template in json.loads(sys.argv[1]):
    try:
        render(template, data, "plain")
        results.append("rendered")
    except RenderError as exc:
        results.append(str(exc))
print(json.dumps(results))
"""


def test_hostile_templates_render_in_bounded_memory() -> None:
    """Each template asks for far more than 64 MB; under a 64 MB address-space headroom every one is
    refused by a limit (an unbounded render would die of MemoryError, reported as 'too much memory')."""
    templates = [
        "{{ 'a'*10**8 }}", "{{ ([1]*10**8)|length }}", "{{ 'a'*10**10 }}", "{{ summary*10**8 }}",
        "{{ 10**(10**8) > 1 }}", "{% set a = summary %}" + "{% set a = a ~ a %}" * 20 + "{{ a|length }}",
        "{% set s %}{% for i in range(100000) %}{{ summary }}{% endfor %}{% endset %}{{ s|length }}",
        "{{ (summary * 100).replace('', summary * 100)|length }}",
    ]
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, json.dumps(templates)],
                          capture_output=True, text=True, check=True)
    results = json.loads(done.stdout)
    assert len(results) == len(templates)
    for template, result in zip(templates, results):
        assert result.startswith("template error"), (template, result)
        assert "memory" not in result, (template, result)
        assert "larger than" in result or "steps" in result or "bits" in result, (template, result)


async def test_a_hostile_template_fails_its_step_audited_and_the_next_step_runs(ports) -> None:
    rb = Runbook.model_validate({"name": "rb", "trigger": {"kind": "cost"}, "steps": [
        {"block": {"value": "u-1", "reason": "{{ incident.summary * 10**8 }}"}},
        {"page": {}},
    ]})
    log: list = []
    engine = Engine([rb], {"block": Block(), "page": Scripted("page", log)}, ports, InMemoryOutbox())
    [execution] = await engine.handle(make_event())
    await engine.drain()  # notifications are delivered by a queue per incident
    block, page = execution.step("0"), execution.step("1")
    assert block.status == "failed"
    assert block.error.startswith("block: template error (template line 1): repeating a value 100,000,000")
    assert [(a.step, a.outcome, a.retryable) for a in execution.audit] == [
        ("0", "error", False), ("1", "ok", None)]
    assert page.status == "ok" and log == [("page", f"{execution.execution_id}:1")]


class RendersMany(Scripted):
    """An action rendering several templates (like PagerDuty custom details or Slack fields)."""

    def __init__(self, log: list, template: str, times: int) -> None:
        super().__init__("page", log)
        self.template, self.times, self.rendered = template, times, 0

    async def _run(self, params, ctx):
        for _ in range(self.times):
            ctx.render(self.template, "plain")
            self.rendered += 1
        return await super()._run(params, ctx)


async def test_the_templates_of_one_step_share_one_budget(ports) -> None:
    """Ten fields of 30,000 steps each would be 300,000 steps of work for one step: it stops at 100,000."""
    rb = Runbook.model_validate({"name": "rb", "trigger": {"kind": "cost"}, "steps": [{"page": {}}]})
    action = RendersMany([], "{% for i in range(15000) %}{% endfor %}", times=10)
    engine = Engine([rb], {"page": action}, ports, InMemoryOutbox())
    [execution] = await engine.handle(make_event())
    await engine.drain()  # notifications are delivered by a queue per incident
    assert execution.step("0").status == "failed" and "steps of work" in execution.step("0").error
    assert action.rendered == 3


async def test_each_attempt_of_a_step_gets_a_fresh_budget(ports) -> None:
    rb = Runbook.model_validate({"name": "rb", "trigger": {"kind": "cost"}, "steps": [{"page": {}, "retries": 2}]})
    action = RendersMany([], "{% for i in range(30000) %}{% endfor %}", times=1)  # 60,000 steps per attempt
    action.script = [ActionError("503", retryable=True, status_code=503)]
    engine = Engine([rb], {"page": action}, ports, InMemoryOutbox(), backoff_s=0.0)
    [execution] = await engine.handle(make_event())
    await engine.drain()  # notifications are delivered by a queue per incident
    assert execution.step("0").status == "ok" and action.rendered == 2


@pytest.mark.parametrize("step", ["slack: {text: %s}", "page: {summary: %s}", "webhook: {url: 'https://x.example', body: %s}"])
def test_lint_reports_templates_checked_by_an_action_the_same_way(step: str) -> None:
    text = "name: h\ntrigger: {kind: cost}\nsteps:\n  - " + step % json.dumps("{{ 'a'*10**8 }}") + "\n"
    _, [problem] = load_text(text, "h.yaml")
    assert problem.line == 4 and problem.message.startswith("template error (template line 1): repeating a value")
