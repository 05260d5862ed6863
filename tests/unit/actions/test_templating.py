"""Templating: the sandbox holds, and hostile trace text comes out inert through every escape."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbooks import templating
from runbooks.templating import sandbox
from runbooks.templating import PAGERDUTY_SUMMARY_MAX, RenderError, render, template_data
from tests.doubles.incidents import HOSTILE, sample_incident

ESCAPES = ["slack", "pagerduty", "url", "json", "plain"]
PAYLOADS = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "<https://evil.example|click here>",
    "<!channel>", "<!everyone>", "<!here>", "@here", "@channel", "<@U123>",
    "```", "`end of code`",
    HOSTILE,
]


def _slack_unescape(text: str) -> str:
    return (text.replace("\u200b", "").replace("\u02cb", "`").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&").replace("\u2217", "*").replace("\uff3f", "_").replace("\u223c", "~"))


DECODE = {
    "plain": lambda out: out,
    "pagerduty": lambda out: out,
    "url": unquote,
    "json": lambda out: "before " + json.loads(out.removeprefix("before ").removesuffix(" after")) + " after",
    "slack": _slack_unescape,
}


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("payload", PAYLOADS)
def test_template_syntax_in_data_comes_out_literally(payload: str, escape: str) -> None:
    """Decoding the destination's escaping gives back exactly the data: nothing was evaluated."""
    out = render("before {{ text }} after", {"text": payload}, escape)
    assert DECODE[escape](out) == f"before {payload} after"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_slack_escape_leaves_no_link_mention_or_code_span(payload: str) -> None:
    out = render("*Input:* ```{{ text }}```", {"text": payload}, "slack")
    inner = out.removeprefix("*Input:* ```").removesuffix("```")
    assert "<" not in inner and ">" not in inner and "`" not in inner
    for mention in ("@here", "@channel", "@everyone"):
        assert mention not in inner


def test_slack_escape_exact() -> None:
    out = render("{{ t }}", {"t": "a & b <https://evil|click> <!channel> @here <@U123> `x`"}, "slack")
    assert out == "a &amp; b &lt;https://evil|click&gt; &lt;!channel&gt; @\u200bhere &lt;@U123&gt; \u02cbx\u02cb"


def test_template_text_itself_is_not_escaped() -> None:
    """The SRE's own markup is trusted: their link and mention survive, the data's do not."""
    out = render("<!here> <https://runbook.example|runbook> {{ t }}", {"t": "<!here>"}, "slack")
    assert out == "<!here> <https://runbook.example|runbook> &lt;!here&gt;"


def test_pagerduty_summary_is_bounded_and_one_line() -> None:
    text = ("x\n\ty\x00\x1b[31m\u202e" + HOSTILE) * 200  # > 10 KB
    assert len(text) > 10_000
    out = render("[critical] {{ t }}", {"t": text}, "pagerduty")
    assert len(out) <= PAGERDUTY_SUMMARY_MAX
    assert out.endswith("…")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in out)


def test_url_escape_cannot_add_path_or_query() -> None:
    out = render("https://ops.example/hooks/{{ app }}?q={{ q }}", {"app": "../admin?x=1#", "q": "a&b=c d"}, "url")
    assert out == "https://ops.example/hooks/..%2Fadmin%3Fx%3D1%23?q=a%26b%3Dc%20d"


def test_json_escape_keeps_hostile_text_inside_its_string() -> None:
    body = render('{"summary": {{ s }}, "n": {{ n }}, "labels": {{ labels }}, "none": {{ nothing }}}',
                  {"s": '", "admin": true, "x": "', "n": 3, "labels": {"a": "<b>"}, "nothing": None}, "json")
    assert json.loads(body) == {"summary": '", "admin": true, "x": "', "n": 3, "labels": {"a": "<b>"},
                                "none": None}


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ incident.__class__ }}",
    "{{ (1).__class__.__subclasses__() }}",
    "{% set x = labels.update({'a': 1}) %}{{ x }}",
    "{{ labels.pop('detector') }}",
])
def test_sandbox_refuses_unsafe_templates(template: str) -> None:
    with pytest.raises(RenderError):
        render(template, {"labels": {"detector": "d"}, "incident": {}}, "plain")


def test_undefined_is_an_error_and_default_works() -> None:
    with pytest.raises(RenderError, match="has no attribute 'user_id'"):
        render("{{ labels.user_id }}", {"labels": {}}, "plain")
    assert render("{{ labels.user_id | default('-') }}", {"labels": {}}, "plain") == "-"


def test_syntax_error_has_a_line() -> None:
    with pytest.raises(RenderError, match="line 2"):
        templating.check("ok\n{{ incident.id ")


def test_unknown_escape() -> None:
    with pytest.raises(RenderError, match="unknown escape"):
        render("x", {}, "html")  # type: ignore[arg-type]


def test_huge_output_is_refused() -> None:
    with pytest.raises(RenderError, match="longer than"):
        render("{% for i in range(50000) %}{{ t }}{% endfor %}", {"t": "abcdefgh"}, "plain")


def test_compiled_templates_are_cached() -> None:
    sandbox._compile.cache_clear()
    render("{{ a }}", {"a": 1}, "plain")
    render("{{ a }}", {"a": 2}, "plain")
    info = sandbox._compile.cache_info()
    assert (info.hits, info.misses) == (1, 1)


def test_template_data() -> None:
    incident = sample_incident("inc/1 ?x", summary=HOSTILE)
    data = template_data(incident, None, {"step": 2, "incident": "shadowed"}, api_url="https://tw.example/")
    assert data["links"]["incident"] == "https://tw.example/v1/incidents/inc%2F1%20%3Fx"
    assert data["incident"]["id"] == "inc/1 ?x" and "findings" not in data["incident"]
    assert data["evidence"]["observed"] == 81.0 and data["labels"]["detector"] == "cost_spike"
    assert data["target"]["user_id"] == "u-42" and data["event"] == "opened" and data["step"] == 2
    assert render("{{ incident.summary }}", data, "plain") == HOSTILE


@given(st.text(max_size=300))
def test_slack_escape_property(text: str) -> None:
    out = templating.escape_slack(text)
    assert "<" not in out and ">" not in out and "`" not in out
    assert "@here" not in out.lower() and "@channel" not in out.lower() and "@everyone" not in out.lower()
    for mark in "*_~":  # no formatting can open: a marker survives only between two letters or digits
        for i, ch in enumerate(out):
            if ch == mark:
                assert 0 < i < len(out) - 1 and out[i - 1].isalnum() and out[i + 1].isalnum()


@given(st.text(max_size=300))
def test_json_escape_property(text: str) -> None:
    assert json.loads(templating.escape_json(text)) == templating.strip_control(text)


@given(st.text(max_size=3000))
def test_pagerduty_property(text: str) -> None:
    out = render("{{ t }}", {"t": text}, "pagerduty")
    assert len(out) <= PAGERDUTY_SUMMARY_MAX and "\n" not in out
