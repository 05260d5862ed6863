"""page / resolve_page against the PagerDuty double over loopback HTTPS (trustme CA as the CA bundle)."""

from __future__ import annotations

import logging
import traceback

import pytest

from runbooks.actions import build_actions
from runbooks.actions.base import ActionError
from runbooks.actions.pagerduty import PageAction, PageParams, ResolvePageAction, ResolvePageParams
from runbooks.actions.settings import PagerDutyConfig
from tests.doubles.fixtures import TEST_ROUTING_KEY, action_settings, pagerduty_double, slack_double, test_ca  # noqa: F401
from tests.doubles.incidents import HOSTILE, action_context, sample_incident
from tests.doubles.retry import RetryLog, run_with_retries

pytestmark = pytest.mark.integration


@pytest.fixture
def config(pagerduty_double, test_ca) -> PagerDutyConfig:
    """Fast pauses so that the bounded in-client retries do not slow the tests down."""
    return PagerDutyConfig(routing_key=TEST_ROUTING_KEY, events_url=pagerduty_double.url, ca_bundle=test_ca.bundle,
                           backoff_s=0.005, max_retries=1, incident_api_url="https://tw.example")


async def test_page_then_resolve(action_settings, pagerduty_double) -> None:
    actions = build_actions(action_settings)
    incident = sample_incident("inc-page-1", summary=HOSTILE * 60, details={"budget_left_usd": 3.5})
    result = await actions["page"].execute(PageParams(), action_context(incident))
    assert result.outcome == "ok" and result.status_code == 202
    assert result.detail == {"dedup_key": "inc-page-1", "event_action": "trigger"}

    [event] = pagerduty_double.events
    assert event["dedup_key"] == "inc-page-1" and event["event_action"] == "trigger"
    payload = event["payload"]
    assert len(payload["summary"]) <= 1024 and payload["summary"].startswith("[critical] cost_spike on model=gpt-4o: ")
    assert payload["severity"] == "critical" and payload["source"] == "tracewatch: model=gpt-4o"
    details = payload["custom_details"]
    assert details["evidence"]["observed"] == 81.0 and details["evidence"]["example_trace_ids"] == ["t-1", "t-2"]
    assert details["evidence"]["details"] == {"budget_left_usd": 3.5}
    link = f"{action_settings.console_url}/incidents/inc-page-1"  # the console's page (TRACEWATCH_PUBLIC_URL)
    assert details["incident_url"] == link and event["links"][0]["href"] == link
    assert details["incident_api_url"] == f"{action_settings.web_url}/v1/incidents/inc-page-1"

    result = await actions["resolve_page"].execute(ResolvePageParams(), action_context(incident, "resolved"))
    assert result.detail == {"dedup_key": "inc-page-1", "event_action": "resolve"}
    assert pagerduty_double.alerts() == {"inc-page-1": "resolved"}


async def test_templated_params(config, pagerduty_double) -> None:
    params = PageParams(summary="{{ labels.detector }} for {{ target.user_id }}: {{ incident.summary }}",
                        severity="error", component="{{ target.model }}", group="llm", event_class="cost",
                        custom_details={"runbook": "https://runbooks.example/cost", "user": "{{ target.user_id }}"})
    incident = sample_incident(summary="line1\nline2\x1b[0m")
    await PageAction(config).execute(params, action_context(incident))
    payload = pagerduty_double.events[0]["payload"]
    assert payload["summary"] == "cost_spike for u-42: line1 line2[0m"
    assert (payload["severity"], payload["component"], payload["group"], payload["class"]) == (
        "error", "gpt-4o", "llm", "cost")
    assert payload["custom_details"]["user"] == "u-42"


async def test_bad_payload_is_not_retryable(config, pagerduty_double) -> None:
    wrong = config.model_copy(update={"routing_key": config.routing_key.__class__("x" * 32)})
    with pytest.raises(ActionError) as info:
        await PageAction(wrong).execute(PageParams(), action_context(sample_incident()))
    assert info.value.status_code == 400 and info.value.retryable is False
    assert "'routing_key' is invalid" in str(info.value)
    assert pagerduty_double.events == []


async def test_outage_page_arrives_once_after_recovery(config, pagerduty_double, caplog) -> None:
    """PagerDuty answers 500 then 429 for a while; the executor's retries deliver the page exactly once."""
    caplog.set_level(logging.DEBUG)
    pagerduty_double.fail_next(5, 500)
    pagerduty_double.fail_next(4, 429)  # no Retry-After: the action suggests its configured pause
    log = RetryLog()
    incident = sample_incident("inc-outage")
    result = await run_with_retries(PageAction(config), PageParams(), action_context(incident), log=log)
    assert result.detail["dedup_key"] == "inc-outage"
    assert [e["dedup_key"] for e in pagerduty_double.events] == ["inc-outage"]
    assert pagerduty_double.request_count == 10  # 9 failures, then the one that got through
    assert all(e.retryable for e in log.errors) and {e.status_code for e in log.errors} == {500, 429}
    assert config.rate_limit_retry_after_s in log.waits  # a 429 told the executor to wait
    assert TEST_ROUTING_KEY not in caplog.text
    for error in log.errors:
        assert TEST_ROUTING_KEY not in "".join(traceback.format_exception(error))


async def test_retry_after_header_is_passed_on(config, pagerduty_double) -> None:
    pagerduty_double.fail_next(2, 429, retry_after=17)
    with pytest.raises(ActionError) as info:
        await PageAction(config).execute(PageParams(), action_context(sample_incident()))
    assert (info.value.status_code, info.value.retryable, info.value.retry_after) == (429, True, 17.0)


async def test_unreachable_is_retryable_and_does_not_leak(config, pagerduty_double, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    pagerduty_double.stop()
    with pytest.raises(ActionError) as info:
        await PageAction(config.model_copy(update={"max_retries": 1})).execute(
            PageParams(), action_context(sample_incident()))
    assert info.value.retryable is True and "unreachable" in str(info.value)
    assert TEST_ROUTING_KEY not in caplog.text and TEST_ROUTING_KEY not in repr(info.value)


async def test_untrusted_certificate_is_refused(pagerduty_double) -> None:
    """Without the CA bundle the double's self-signed certificate is not trusted."""
    config = PagerDutyConfig(routing_key=TEST_ROUTING_KEY, events_url=pagerduty_double.url, max_retries=1,
                             backoff_s=0.005)
    with pytest.raises(ActionError, match="unreachable"):
        await ResolvePageAction(config).execute(ResolvePageParams(), action_context(sample_incident()))
    assert pagerduty_double.events == []
