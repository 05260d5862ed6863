from detectors.finding import Finding, Target
from incidents.book import IncidentBook, IncidentPolicy, incident_id_for


def finding(t, severity="warning", series="model=m", detector="latency_p95"):
    return Finding(time=t, detector=detector, kind="latency", series=series, severity=severity, score=1.0,
                   target=Target(model="m"))


def events(evts):
    return [e.event for e in evts]


def test_findings_for_one_key_make_one_incident():
    book = IncidentBook({})
    assert events(book.on_finding(finding(10))) == ["opened"]
    for t in range(11, 40):
        assert book.on_finding(finding(t)) == []
    incident = book.get("latency_p95|model=m")
    assert incident.finding_count == 30
    assert incident.id == incident_id_for("latency_p95|model=m", 0)


def test_the_incident_id_does_not_depend_on_which_finding_arrives_first():
    # Per-event findings from different source partitions arrive in no fixed order; after a crash they
    # are read again in another. The same incident must keep one identity (one dedup_key) either way.
    early, late = finding(10), finding(12)
    ids = {IncidentBook({}).on_finding(first)[0].incident.id for first in (early, late)}
    assert len(ids) == 1


def test_each_incident_of_a_key_has_its_own_id():
    book = IncidentBook({}, IncidentPolicy(resolve_after_s=60, reopen_within_s=100))
    first = book.on_finding(finding(10))[0].incident
    book.tick(now=100)  # auto-resolved
    second = book.on_finding(finding(500))[0].incident  # past the reopen window: a new incident
    book.resolve("latency_p95|model=m", by="alice", now=501)
    third = book.on_finding(finding(502))[0].incident  # after a manual resolve: a new one at once
    assert [first.number, second.number, third.number] == [0, 1, 2]
    assert len({first.id, second.id, third.id}) == 3


def test_other_series_open_their_own_incident():
    book = IncidentBook({})
    book.on_finding(finding(10))
    assert events(book.on_finding(finding(11, series="model=other"))) == ["opened"]
    assert len(book.store) == 2


def test_redelivered_first_finding_names_the_same_incident():
    store: dict = {}
    first = IncidentBook(store).on_finding(finding(10))[0].incident.id
    # The same finding again (at-least-once delivery after a crash) neither opens nor counts twice.
    assert IncidentBook(store).on_finding(finding(10)) == []
    assert IncidentBook(store).get("latency_p95|model=m").id == first
    assert IncidentBook(store).get("latency_p95|model=m").finding_count == 1


def test_info_findings_open_nothing():
    assert IncidentBook({}).on_finding(finding(10, severity="info")) == []


def test_escalates_on_higher_severity_once():
    book = IncidentBook({})
    book.on_finding(finding(10))
    assert events(book.on_finding(finding(11, severity="critical"))) == ["escalated"]
    assert book.on_finding(finding(12, severity="critical")) == []
    assert book.on_finding(finding(13, severity="warning")) == []
    assert book.get("latency_p95|model=m").severity == "critical"


def test_auto_resolve_after_quiet_time_and_not_before():
    book = IncidentBook({}, IncidentPolicy(resolve_after_s=300))
    book.on_finding(finding(100))
    assert book.tick(now=399) == []
    assert events(book.tick(now=400)) == ["resolved"]
    assert book.get("latency_p95|model=m").resolved_by == "auto"
    assert book.tick(now=1000) == []


def test_a_model_update_waits_for_a_decision_and_does_not_resolve_when_quiet():
    book = IncidentBook({}, IncidentPolicy(resolve_after_s=300))
    update = Finding(time=100, detector="model_update", kind="model_update", series="model=gpt-4o",
                     severity="warning", score=1.0, target=Target(model="gpt-4o"))
    book.on_finding(update)
    book.on_finding(finding(100))
    assert events(book.tick(now=10_000)) == ["resolved"]  # the latency incident only
    assert book.get(update.incident_key).state == "open"
    assert events([book.resolve(update.incident_key, by="runbook:provider-model-update", now=10_001)]) == ["resolved"]


def test_flapping_series_reopens_instead_of_opening_anew():
    book = IncidentBook({}, IncidentPolicy(resolve_after_s=60, reopen_within_s=600))
    first = book.on_finding(finding(0))[0].incident.id
    for cycle in range(1, 6):  # fires, clears, fires again every few minutes
        book.tick(now=cycle * 200 - 100)
        evts = book.on_finding(finding(cycle * 200))
        assert events(evts) == ["escalated"]
        assert evts[0].incident.id == first


def test_a_finding_long_after_resolve_opens_a_new_incident():
    book = IncidentBook({}, IncidentPolicy(resolve_after_s=60, reopen_within_s=600))
    first = book.on_finding(finding(0))[0].incident.id
    book.tick(now=100)
    evts = book.on_finding(finding(5000))
    assert events(evts) == ["opened"] and evts[0].incident.id != first


def test_manual_resolve_is_not_reopened_by_hysteresis():
    book = IncidentBook({}, IncidentPolicy(resolve_after_s=60, reopen_within_s=600))
    book.on_finding(finding(0))
    assert events([book.resolve("latency_p95|model=m", by="alice", now=30)]) == ["resolved"]
    assert events(book.on_finding(finding(40))) == ["opened"]


def test_acknowledge_then_resolve():
    book = IncidentBook({})
    book.on_finding(finding(0))
    inc = book.acknowledge("latency_p95|model=m", by="bob", now=5)
    assert inc.state == "acknowledged" and inc.acknowledged_by == "bob"
    assert book.on_finding(finding(6)) == []  # still the same incident
    assert book.resolve("latency_p95|model=m", by="bob", now=7).incident.state == "resolved"
    assert book.resolve("latency_p95|model=m", by="bob", now=8) is None


def test_an_incident_never_published_is_announced_again_with_the_same_event():
    store: dict = {}
    book = IncidentBook(store, IncidentPolicy(resolve_after_s=60))
    f = Finding(time=100.0, detector="cost_spike", kind="cost", series="model=m", severity="critical", score=1)
    [opened] = book.on_finding(f)
    published: dict = {}
    # the worker died after the table write, before the record went out: the next owner republishes it
    [again] = book.unannounced(published.get)
    assert (again.event, again.time, again.sequence, again.incident.id) == (
        opened.event, opened.time, opened.sequence, opened.incident.id)

    published[opened.incident.id] = opened.incident
    assert book.unannounced(published.get) == []  # announced: nothing to repeat
    [resolved] = book.tick(now=200.0)
    [repeat] = book.unannounced(published.get)
    assert (repeat.event, repeat.sequence) == ("resolved", resolved.sequence)


def test_an_incident_opened_and_escalated_before_anything_was_published_is_opened_again_first():
    # Killed after the table had both changes and before either record went out: the runbooks of the
    # opening (the page) must run, not only those of the escalation.
    book = IncidentBook({})
    f = Finding(time=100.0, detector="cost_spike", kind="cost", series="model=m", severity="warning", score=1)
    [opened] = book.on_finding(f)
    [escalated] = book.on_finding(f.model_copy(update={"time": 101.0, "severity": "critical"}))
    again = book.unannounced({}.get)
    assert [(e.event, e.time, e.sequence) for e in again] == [
        (opened.event, opened.time, opened.sequence), (escalated.event, escalated.time, escalated.sequence)]
    assert {e.incident.id for e in again} == {opened.incident.id}
