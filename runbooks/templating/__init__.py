"""Sandboxed templates for runbook steps: the SRE's template, the incident's data, escaped per destination.

The template comes from the runbook YAML (trusted); the data includes trace text (hostile). So:

- templates are compiled by Jinja2's ``ImmutableSandboxedEnvironment`` (no attribute games, no mutation);
- every ``{{ value }}`` is escaped for where the rendered string goes (``finalize``), never re-rendered,
  so ``{{ }}`` / ``{% %}`` inside trace text comes out literally and does nothing;
- undefined names are errors (``StrictUndefined``); write ``{{ labels.user_id | default("-") }}``
  for a value that may be absent;
- the work and memory a template may use are bounded (``MAX_*``): sizes are checked before a value is
  built, every render has a step budget, output stops at ``MAX_RENDERED_CHARS`` as it is produced, and
  lint (``check``) refuses constant work that can never fit (``'a' * 10**9``).

Modules: ``escaping`` (per destination), ``limits`` (the bounds and the hooks that enforce them),
``sandbox`` (the Jinja2 environment that calls the hooks), ``lint`` (``check``), ``rendering``
(``render`` and the data a template sees), ``errors``.

>>> render("{{ incident.id }}: {{ text }}", {"incident": {"id": "inc-1"}, "text": "<!here> {{ 7*7 }}"}, "slack")
'inc-1: &lt;!here&gt; {{ 7*7 }}'
>>> render("https://x.example/search?q={{ q }}", {"q": "a b&c"}, "url")
'https://x.example/search?q=a%20b%26c'
>>> render('{"summary": {{ s }}}', {"s": 'say "hi"'}, "json")
'{"summary": "say \\\\"hi\\\\""}'
"""

from runbooks.templating.errors import RenderError, TemplateLimitError
from runbooks.templating.escaping import (
    ESCAPERS, PAGERDUTY_SUMMARY_MAX, Escape, escape_json, escape_pagerduty, escape_plain, escape_slack,
    escape_url, strip_control, truncate,
)
from runbooks.templating.limits import (
    CHARS_PER_STEP, MAX_INT_BITS, MAX_JSON_INDENT, MAX_PAD, MAX_RANGE, MAX_STEPS, MAX_TEMPLATE_CHARS,
    MAX_VALUE_SIZE, NODES_PER_STEP,
)
from runbooks.templating.lint import check, check_each
from runbooks.templating.rendering import (
    MAX_RENDERED_CHARS, console_url, incident_url, new_budget, render, template_data,
)

__all__ = [
    "CHARS_PER_STEP", "ESCAPERS", "Escape", "MAX_INT_BITS", "MAX_JSON_INDENT", "MAX_PAD", "MAX_RANGE",
    "MAX_RENDERED_CHARS", "MAX_STEPS", "MAX_TEMPLATE_CHARS", "MAX_VALUE_SIZE", "NODES_PER_STEP",
    "PAGERDUTY_SUMMARY_MAX", "RenderError", "TemplateLimitError", "check", "check_each", "console_url",
    "escape_json",
    "escape_pagerduty", "escape_plain", "escape_slack", "escape_url", "incident_url", "new_budget", "render",
    "strip_control", "template_data", "truncate",
]
