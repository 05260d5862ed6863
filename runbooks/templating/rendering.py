"""Rendering a step's templates with the incident's data, and the data a template sees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import TemplateError

from runbooks.templating.errors import RenderError, TemplateLimitError
from runbooks.templating.escaping import PAGERDUTY_SUMMARY_MAX, Escape, truncate
from runbooks.templating.limits import _BUDGET, MAX_STEPS, _Budget
from runbooks.templating.sandbox import _compile, _template_line

if TYPE_CHECKING:
    from incidents.incident import Incident, IncidentEvent

MAX_RENDERED_CHARS = 100_000  # a template loop over hostile data must not build a huge string


def new_budget() -> _Budget:
    """A step budget of ``MAX_STEPS`` to share between renders (the engine gives each step attempt one,
    so a step with many templates — PagerDuty custom details, Slack fields — is bounded as a whole)."""
    return _Budget(MAX_STEPS)


def render(template: str, data: dict[str, Any], escape: Escape, *, budget: _Budget | None = None) -> str:
    """Render the trusted ``template`` with ``data``, every value escaped for ``escape``.

    Output is collected as it is produced and stops at ``MAX_RENDERED_CHARS`` (an error, except for
    ``pagerduty``, which is cut to the Events API's 1024-character summary limit). The work is bounded
    by ``budget`` (default: a fresh ``MAX_STEPS``); any failure (a limit, an undefined name,
    ``MemoryError``, ``RecursionError`` …) is a ``RenderError``.
    """
    compiled = _compile(template, escape)
    token = _BUDGET.set(budget if budget is not None else new_budget())
    chunks = compiled.generate(data)
    parts: list[str] = []
    length = 0
    try:
        for chunk in chunks:
            parts.append(chunk)
            length += len(chunk)
            if length > MAX_RENDERED_CHARS:
                if escape == "pagerduty":
                    break
                raise RenderError(f"rendered text is longer than {MAX_RENDERED_CHARS} characters")
    except TemplateLimitError as exc:
        line = _template_line(exc)
        where = f" (template line {line})" if line else ""
        raise TemplateLimitError(f"template error{where}: {exc}") from None
    except RenderError:
        raise
    except TemplateError as exc:
        raise RenderError(f"template error: {exc.message or exc}") from None
    except (MemoryError, RecursionError) as exc:
        parts.clear()
        what = "too much memory" if isinstance(exc, MemoryError) else "recursion too deep"
        raise TemplateLimitError(f"template error: {what} ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - a template failing in any other way is a failed step
        raise RenderError(f"template error: {type(exc).__name__}: {exc}") from None
    finally:
        chunks.close()
        _BUDGET.reset(token)
    out = "".join(parts)
    if escape == "pagerduty":
        return truncate(out.strip(), PAGERDUTY_SUMMARY_MAX)
    return out


def incident_url(api_url: str, incident_id: str) -> str:
    """``{api_url}/v1/incidents/{id}`` with the id percent-encoded."""
    return f"{api_url.rstrip('/')}/v1/incidents/{quote(incident_id, safe='')}"


def console_url(base_url: str, incident_id: str) -> str:
    """The incident's page in the console, ``{TRACEWATCH_PUBLIC_URL}/incidents/{id}`` (id percent-encoded)."""
    return f"{base_url.rstrip('/')}/incidents/{quote(incident_id, safe='')}"


def template_data(
    incident: Incident, event: IncidentEvent | None = None, extra: dict[str, Any] | None = None,
    *, api_url: str = "http://127.0.0.1:6066",
) -> dict[str, Any]:
    """The data a step template sees (plain dicts, lists and scalars only — nothing with methods).

    Keys: ``incident`` (every field but the finding list), ``event`` (opened | escalated | resolved),
    ``event_time``, ``labels``, ``target``, ``finding`` (the latest), ``evidence`` (its evidence),
    ``links`` (``incident``: the incident API URL), plus everything in ``extra`` (core keys win).
    """
    latest = incident.findings[-1].model_dump(mode="json") if incident.findings else {}
    core = {
        "incident": incident.model_dump(mode="json", exclude={"findings"}),
        "event": event.event if event is not None else "opened",
        "event_time": event.time if event is not None else incident.updated_at,
        "labels": dict(incident.labels),
        "target": incident.target.model_dump(mode="json"),
        "finding": latest,
        "evidence": latest.get("evidence", {}),
        "links": {"incident": incident_url(api_url, incident.id)},
    }
    return {**(extra or {}), **core}
