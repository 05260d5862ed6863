"""The actions a runbook step can take, registered explicitly.

``ACTION_TYPES`` maps the step name in YAML to its ``Action`` class: the loader validates each step's
keys with that class's ``Params`` and the engine runs it. (``wait_for_ack`` is not an action: the
engine itself waits.)
"""

from __future__ import annotations

from typing import Any

from runbooks.actions.base import Action
from runbooks.actions.block import Block, Unblock
from runbooks.actions.model import PinModel, UnpinModel
from runbooks.actions.pagerduty import PageAction, ResolvePageAction
from runbooks.actions.prompt import PromotePrompt, RollbackPrompt
from runbooks.actions.settings import ActionConfigError
from runbooks.actions.slack import SlackAction
from runbooks.actions.webhook import WebhookAction

ACTION_TYPES: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    """Add ``cls`` under its ``type``; a second class for the same step name is a programming error."""
    if ACTION_TYPES.get(cls.type, cls) is not cls:
        raise ValueError(f"action type {cls.type!r} registered twice")
    ACTION_TYPES[cls.type] = cls
    return cls


for _cls in (Block, Unblock, RollbackPrompt, PromotePrompt, PinModel, UnpinModel):
    register(_cls)
for _cls in (PageAction, ResolvePageAction, SlackAction, WebhookAction):
    register(_cls)


def build_actions(settings: Any) -> dict[str, Action]:
    """One configured instance of every registered action, keyed by step name.

    An action class with a ``from_settings(settings)`` classmethod builds itself from the settings
    (PagerDuty, Slack, webhook); the others take no configuration. Bad configuration raises
    ``ActionConfigError`` here, at start-up; a missing credential does not — that action then fails
    at run time with a non-retryable "not configured" ``ActionError``.

    >>> from streams.settings import Settings
    >>> actions = build_actions(Settings(_env_file=None))
    >>> sorted(actions) == sorted(ACTION_TYPES)
    True
    """
    actions: dict[str, Action] = {}
    for name, cls in ACTION_TYPES.items():
        factory = getattr(cls, "from_settings", None)
        actions[name] = factory(settings) if factory is not None else cls()
    return actions
