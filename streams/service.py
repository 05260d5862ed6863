"""The worker's service: the app (``streams.app``) with its agents, one step of the data flow each, and
the web API registered on it. The agents and the API take the app; the app knows neither."""

from __future__ import annotations

from streams import console, web, web_state
from streams.agents import incidents, ingest, runbooks, series
from streams.app import Tracewatch
from streams.settings import Settings


def build_service(settings: Settings, broker_url: str, *, web_enabled: bool = True) -> Tracewatch:
    """The app with every agent and the API registered: what ``streams.worker`` runs."""
    tw = Tracewatch(settings, broker_url, web=web_enabled)
    ingest.register(tw)
    series.register(tw)
    incidents.register(tw)
    runbooks.register(tw)
    web.register(tw)
    web_state.register(tw)
    console.register(tw)
    return tw
