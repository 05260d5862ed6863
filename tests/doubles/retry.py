"""An executor-style retry loop for action tests: retry what is retryable, wait what the error asks."""

from __future__ import annotations

from dataclasses import dataclass, field

from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult, StepParams


@dataclass
class RetryLog:
    waits: list[float] = field(default_factory=list)  # seconds the loop was asked to wait
    errors: list[ActionError] = field(default_factory=list)


async def run_with_retries(action: Action, params: StepParams, ctx: ActionContext, *, attempts: int = 10,
                           backoff_s: float = 1.0, log: RetryLog | None = None) -> ActionResult:
    """Like the executor: a retryable error is retried after ``retry_after`` (else ``backoff_s``), a
    non-retryable one or the last attempt's error is raised. Waiting is recorded, not slept."""
    log = log if log is not None else RetryLog()
    for attempt in range(attempts):
        try:
            return await action.execute(params, ctx)
        except ActionError as exc:
            log.errors.append(exc)
            if not exc.retryable or attempt == attempts - 1:
                raise
            log.waits.append(exc.retry_after if exc.retry_after is not None else backoff_s)
    raise AssertionError("unreachable")
