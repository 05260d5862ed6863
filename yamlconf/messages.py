"""Every message the YAML configs print (detectors, injection signatures, runbooks, prices), in one
table, with one way to name a type and one way to say where: ``file:line: yaml.path: message``.

The texts are what each config has always printed, and its tests assert them exactly; where two
configs say the same thing they share an entry. A type is named one way everywhere: what a key takes
(``wanted``) — "true or false", "a whole number", "a number", "text", "a list", "a mapping" — and what
was found (``type_name``).

>>> report = Report("d.yaml")
>>> report.add(3, "type", "detectors[0].limit", want=wanted(float), got=type_name("lots"))
>>> report.add(1, "unknown", "", what="key", value="detector", hint=did_you_mean("detector", ["detectors"]))
>>> report.lines()
['d.yaml:3: detectors[0].limit: expected a number, got text', 'd.yaml:1: unknown key "detector" (did you mean "detectors"?)']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import yaml

from yamlconf.loader import line_of

MESSAGES: dict[str, str] = {
    # ---- every config
    "yaml": "invalid YAML: {problem}",
    "not_yaml": "not valid YAML: {problem}",  # the signatures' and prices' wording
    "type": "expected {want}, got {got}",
    "unknown": 'unknown {what} "{value}"{hint}',
    "missing": 'missing required key "{key}"',
    "duplicate_key": 'duplicate key "{key}"',
    "reason": "{reason}",  # said by the code that checked the value (a series, a field)
    # ---- detectors (detectors/config.py)
    "unknown_of": 'unknown {what} "{value}"{hint}; allowed: {allowed}',
    "not_allowed": '"{value}" is not allowed; allowed: {allowed}',
    "non_negative": "must be 0 or more, got {value}",
    "detector_name": 'name "{value}" may only contain letters, digits, "_", "." and "-"',
    "duplicate_detector": 'duplicate detector name "{value}" (first defined on line {line})',
    "quality_series": 'a quality detector compares prompt versions, so its series must not contain '
                      '"prompt_version" (use e.g. "prompt_id")',
    "window_multiple": "window_s {value} must be a whole multiple of bucket_s {bucket}",
    "budget_window": 'a budget\'s window is its period; use "period: hour|day" instead of window_s',
    "share": "must be a share of calls above 0 and at most 1, got {value}",
    # ---- injection signatures (detectors/injection/signatures.py)
    "rules_top": 'expected a mapping with a "rules" list',
    "version": "unsupported version {value!r} (supported: 1)",
    "rule_not_mapping": "each rule must be a mapping",
    "must_be": '"{key}" must be {want}',
    "duplicate_rule": 'duplicate rule id "{value}" (first defined at line {line})',
    "weight": '"weight" must be a number from -5 to 10 (negative only in category benign_context)',
    "pattern": "pattern does not compile in RE2: {error}",
    "example": "example does not match any pattern of this rule: {value!r}",
    # ---- runbooks (runbooks/schema.py, runbooks/loader.py); pydantic's error types are keys too
    "runbook_not_mapping": "a runbook file must be a mapping (name, trigger, steps, ...), got {got}",
    "runbook_unreadable": "cannot read the file: {error}",
    "duplicate_runbook": 'duplicate runbook name "{name}" (also in {other})',
    "step_unavailable": 'step "{value}" is not available: its action is not registered in this build',
    "step_no_action": "a step needs one action key (one of: {allowed})",
    "step_many_actions": "a step takes exactly one action, found {found}; write one step per action",
    "step_not_mapping": "a step must be a mapping like `- page: {{...}}`, got {got}",
    "regex": 'invalid regular expression "{pattern}": {error}',
    "matcher_one": "a label matcher takes exactly one of: {allowed}; found {found}",
    "name_pattern": 'a runbook name uses lowercase letters, digits, - and _ (got "{input}")',
    "test_input": "a test needs exactly one of `incident:` or `findings:`",
    "literal_error": "must be one of {expected}, got {input!r}",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "takes at most {max_length} item(s)",
    "greater_than": "must be greater than {gt}, got {input!r}",  # the detectors' too
    "greater_than_equal": "must be at least {ge}, got {input!r}",
    "less_than_equal": "must be at most {le}, got {input!r}",
    "string_too_short": "must not be empty",
    # ---- prices (traces/prices.py)
    "prices_top": "expected a mapping with a 'models' key",
    "prices_empty": "empty file; expected a mapping with a 'models' key",
    "prices_unreadable": "cannot read price file: {error}",
    "prices_unknown_key": "unknown key {key!r} (allowed: {allowed})",
    "prices_no_models": "missing 'models' mapping (model name -> {{input, output}})",
    "prices_models": "'models' must be a mapping of model name -> {{input: USD, output: USD}}",
    "model_name": "model name must be text, got {value!r}",
    "model_twice": "listed twice (first on line {line})",
    "model_price": "expected {{input: USD, output: USD}} per million tokens",
    "price": "{key!r} must be a number ≥ 0, got {value!r}",
    "price_missing": "missing {key!r} (USD per million {key} tokens)",
}

_WANTED = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list",
           dict: "a mapping"}


def wanted(kind: type) -> str:
    """What a key of type ``kind`` takes, in messages: ``expected a whole number``."""
    return _WANTED[kind]


def type_name(value: Any) -> str:
    """What ``value`` is, in messages: ``got text``."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    for kind in (str, list, dict):
        if isinstance(value, kind):
            return _WANTED[kind]
    return type(value).__name__


def did_you_mean(word: str, choices: Any) -> str:
    """' (did you mean "x"?)' for a close match, else ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def hint(word: str, choices: Any) -> str:
    """' (did you mean "x"?)' for a close match, else ' (allowed: a, b, c)'."""
    return did_you_mean(word, choices) or (f" (allowed: {', '.join(choices)})" if choices else "")


def message(key: str, /, **context: Any) -> str:
    return MESSAGES[key].format(**context)


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a file, at a line and a YAML path (``steps[0].block``; empty at the top)."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


@dataclass
class Report:
    """The problems found in one file, in the order they were found."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, at: yaml.Node | int | None, key: str, path: str = "", /, **context: Any) -> None:
        """A problem at a node (its line), a 1-based line, or None (line 1)."""
        line = line_of(at) if isinstance(at, yaml.Node) else at or 1
        self.problems.append(Problem(self.file, line, path, message(key, **context)))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]

    def __len__(self) -> int:
        return len(self.problems)
