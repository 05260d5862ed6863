"""The webhook action against a loopback HTTPS receiver."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from runbooks.actions.base import ActionError
from runbooks.actions.settings import WebhookConfig
from runbooks.actions.webhook import WebhookAction, WebhookParams
from tests.doubles.fixtures import test_ca  # noqa: F401
from tests.doubles.incidents import HOSTILE, action_context, sample_incident
from tests.doubles.webhook import WebhookReceiver

pytestmark = pytest.mark.integration
SECRET = "Bearer hook-secret-do-not-leak"


@pytest.fixture
def receiver(test_ca) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(test_ca.server_context()) as server:
        yield server


@pytest.fixture
def action(test_ca) -> WebhookAction:
    return WebhookAction(WebhookConfig(ca_bundle=test_ca.bundle, secrets={"ops": SECRET}))


async def test_default_body_keeps_hostile_text_in_strings(action, receiver) -> None:
    incident = sample_incident("inc-w1", summary='", "admin": true, "x": "' + HOSTILE)
    params = WebhookParams(url=receiver.url + "/hooks/{{ labels.detector }}/{{ target.user_id }}",
                           headers={"X-Team": "llm"}, secret_headers={"Authorization": "ops"})
    result = await action.execute(params, action_context(incident, step=3))
    [got] = receiver.received
    assert result.status_code == 200 and got["path"] == "/hooks/cost_spike/u-42"
    assert got["body"]["summary"] == incident.summary and "admin" not in got["body"]
    assert got["body"]["incident_id"] == "inc-w1" and got["body"]["evidence"]["observed"] == 81.0
    assert got["headers"]["authorization"] == SECRET and got["headers"]["x-team"] == "llm"
    assert got["headers"]["idempotency-key"] == "exec-1:3"


async def test_url_values_cannot_change_the_path(action, receiver) -> None:
    incident = sample_incident(user_id="../../admin?drop=1")
    await action.execute(WebhookParams(url=receiver.url + "/u/{{ target.user_id }}"), action_context(incident))
    assert receiver.received[0]["path"] == "/u/..%2F..%2Fadmin%3Fdrop%3D1"


async def test_body_that_is_not_json_fails_before_sending(action, receiver) -> None:
    params = WebhookParams(url=receiver.url, body='{"s": "{{ incident.summary }}"}')  # quotes around a value
    with pytest.raises(ActionError, match="not JSON") as info:
        await action.execute(params, action_context(sample_incident()))
    assert info.value.retryable is False and receiver.request_count == 0


@pytest.mark.parametrize("status, retryable", [(500, True), (429, True), (404, False), (400, False)])
async def test_http_errors(action, receiver, caplog, status, retryable) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.fail_next(1, status, retry_after=3)
    params = WebhookParams(url=receiver.url, secret_headers={"Authorization": "ops"})
    with pytest.raises(ActionError) as info:
        await action.execute(params, action_context(sample_incident()))
    assert (info.value.status_code, info.value.retryable) == (status, retryable)
    assert info.value.retry_after == (3.0 if retryable else None)
    assert SECRET not in caplog.text and SECRET not in str(info.value)
