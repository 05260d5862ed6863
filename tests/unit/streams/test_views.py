"""The API's view of incidents: every id that was ever paged stays answerable."""

from __future__ import annotations

from incidents.incident import Incident
from incidents.incident import IncidentChange
from incidents.view import IncidentView
from tests.unit.runbooks.runbook_helpers import make_event


def incident(incident_id: str, opened_at: float, state: str = "open") -> Incident:
    found = make_event(incident_id=incident_id, time=opened_at).incident
    return found.model_copy(update={"state": state, "updated_at": opened_at + (5 if state == "resolved" else 0)})


def test_a_superseded_incident_stays_answerable_and_points_to_the_current_one():
    view = IncidentView()
    first, second = incident("inc-1", 100.0), incident("inc-2", 500.0)
    assert first.key == second.key
    view.apply_incident(None, IncidentChange("opened", first, 100.0).to_json())
    view.apply_incident(None, IncidentChange("resolved", incident("inc-1", 100.0, "resolved"), 105.0).to_json())
    view.apply_incident(None, IncidentChange("opened", second, 500.0).to_json())

    assert view.get("inc-1").state == "resolved" and view.superseded_by(view.get("inc-1")) == "inc-2"
    assert view.superseded_by(view.get("inc-2")) is None
    assert [i.id for i in view.list()] == ["inc-2"]
    assert [i.id for i in view.list(superseded=True)] == ["inc-2", "inc-1"]
    assert view.open_count() == 1


def test_late_records_do_not_move_an_incident_or_its_key_back():
    view = IncidentView()
    resolved, reopened = incident("inc-1", 100.0, "resolved"), incident("inc-2", 500.0)
    view.apply_incident(None, IncidentChange("resolved", resolved, 105.0).to_json())
    view.apply_incident(None, IncidentChange("opened", reopened, 500.0).to_json())
    view.apply_incident(None, IncidentChange("opened", incident("inc-1", 100.0), 100.0).to_json())  # delivered late
    assert view.get("inc-1").state == "resolved"
    assert [i.id for i in view.list()] == ["inc-2"]
