"""The actions a runbook step can take, registered explicitly.

``ACTION_TYPES`` maps the step name in YAML to its ``Action`` class: the loader validates each step's
keys with that class's ``Params`` and the engine runs it. (``wait_for_ack`` is not an action: the
engine itself waits.)
"""

from __future__ import annotations

from runbooks.actions.base import Action
from runbooks.actions.block import Block, Unblock
from runbooks.actions.prompt import PromotePrompt, RollbackPrompt

ACTION_TYPES: dict[str, type[Action]] = {}


def register(cls: type[Action]) -> type[Action]:
    """Add ``cls`` under its ``type``; a second class for the same step name is a programming error."""
    if ACTION_TYPES.get(cls.type, cls) is not cls:
        raise ValueError(f"action type {cls.type!r} registered twice")
    ACTION_TYPES[cls.type] = cls
    return cls


for _cls in (Block, Unblock, RollbackPrompt, PromotePrompt):
    register(_cls)
