"""One way to name a type: the detector config and the runbooks say a wrong type in the same words."""

from detectors.config import lint_text
from runbooks.loader import load_text


def test_a_list_where_text_belongs_reads_the_same_in_every_config() -> None:
    [detectors] = lint_text("detectors:\n  - name: a\n    kind: cost\n    series: [model]\n", "d.yaml")
    runbook, problems = load_text("name: [a]\ntrigger: {kind: cost}\nsteps:\n  - resolve_page\n", "r.yaml")
    assert detectors == "d.yaml:4: detectors[0].series: expected text, got a list"
    assert [str(p) for p in problems] == ["r.yaml:1: name: expected text, got a list"]


def test_a_wrong_type_inside_a_runbook_is_named_like_the_detectors_name_it() -> None:
    _, problems = load_text("name: x\ntrigger: {kind: cost}\nsteps:\n  - page: {}\n    retries: lots\n  - 5\n",
                            "r.yaml")
    assert [str(p) for p in problems] == [
        "r.yaml:5: steps[0].retries: expected a whole number, got text",
        "r.yaml:6: steps[1]: a step must be a mapping like `- page: {...}`, got a number",
    ]
