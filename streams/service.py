"""The worker's service: the app (``streams.app``) with its agents, one step of the data flow each, and
the web API registered on it. The agents and the API take the app; the app knows neither.

The data flow itself is one :class:`~runbooks.pipeline.Pipeline`, built here: the ingest agent drives
its decode stage, the series agent the detectors it holds, the incident agent its group stage (over the
incident table) and the runbook agent its respond stage (the engine it adds)."""

from __future__ import annotations

from streams import console, web, web_state
from incidents.book import IncidentBook
from runbooks.pipeline import Pipeline
from streams.agents import incidents, ingest, runbooks, series
from streams.app import Tracewatch
from streams.settings import Settings


def build_service(settings: Settings, broker_url: str, *, web_enabled: bool = True) -> Tracewatch:
    """The app with every agent and the API registered: what ``streams.worker`` runs."""
    tw = Tracewatch(settings, broker_url, web=web_enabled)
    tw.pipeline = Pipeline(book=IncidentBook(incidents.IncidentStore(tw), tw.incident_policy),
                           prices=tw.prices, suite=tw.suite)
    ingest.register(tw)
    series.register(tw)
    incidents.register(tw)
    runbooks.register(tw)
    web.register(tw)
    web_state.register(tw)
    console.register(tw)
    return tw
