"""The price table: shipped prices, prefix matching, user overrides, lint messages."""

import pytest

from traces.events import TraceEvent
from traces.prices import SHIPPED_PRICES, ModelPrice, PriceTable, PriceTableError, parse_prices
from streams.settings import Settings


def event(model, input_tokens=1_000_000, output_tokens=1_000_000, **kw):
    return TraceEvent(trace_id="t", timestamp=0, model=model, input_tokens=input_tokens,
                      output_tokens=output_tokens, **kw)


@pytest.fixture(scope="module")
def table():
    return PriceTable.load()


def test_shipped_table_has_the_common_models(table):
    for model in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini", "claude-3-5-sonnet", "claude-3-5-haiku",
                  "claude-sonnet-4", "gemini-1.5-pro", "gemini-1.5-flash", "llama-3.1-70b", "mistral-large"):
        assert model in table.prices
    assert len(table) >= 12


@pytest.mark.parametrize(
    "model, expected",
    [
        ("gpt-4o", 2.50 + 10.00),
        ("gpt-4o-2024-08-06", 2.50 + 10.00),
        ("gpt-4o-mini-2024-07-18", 0.15 + 0.60),   # longest prefix wins over gpt-4o
        ("GPT-4o", 12.50),
        ("openai/gpt-4o", 12.50),
        ("claude-3-5-sonnet-20241022", 18.00),
        ("claude-3-5-sonnet@20240620", 18.00),      # Vertex AI naming
        ("anthropic.claude-3-5-haiku-20241022-v1:0", 0.80 + 4.00),  # Bedrock naming
        ("gemini-1.5-flash-002", 0.075 + 0.30),
        ("meta-llama/Llama-3.1-70B-Instruct", 0.88 + 0.88),
        ("mistral-large-latest", 8.00),
        ("gpt-4.1", 10.00),
        ("gpt-4.1-mini-2025-04-14", 2.00),
    ],
)
def test_exact_then_longest_prefix(table, model, expected):
    assert table.price(event(model)) == pytest.approx(expected)


@pytest.mark.parametrize("model", ["my-finetune", "gpt-4omega", "gpt-4", "claude", "o3mini"])
def test_unknown_models_get_no_price(table, model):
    assert table.price(event(model)) is None


def test_no_tokens_means_no_price_but_one_side_is_enough(table):
    assert table.price(event("gpt-4o", None, None)) is None
    assert table.price(event("gpt-4o", 1_000_000, None)) == pytest.approx(2.50)


def test_apply_sets_cost_only_when_absent_and_counts_unpriced():
    table = PriceTable.load()
    priced = event("gpt-4o-mini", 1000, 1000)
    assert table.apply(priced) and priced.cost_usd == pytest.approx((150 + 600) / 1_000_000)
    reported = event("gpt-4o", cost_usd=0.5)
    assert table.apply(reported) and reported.cost_usd == 0.5
    unknown = event("house-model")
    assert not table.apply(unknown) and unknown.cost_usd is None
    assert not table.apply(event("house-model"))
    assert table.unpriced == {"house-model": 2}


def test_user_file_is_merged_over_the_shipped_table(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  gpt-4o: {input: 1, output: 2}\n  house-model: {input: 0.5, output: 0.5}\n")
    table = PriceTable.load(path)
    assert table.lookup("gpt-4o-2024-08-06") == ModelPrice(1.0, 2.0)
    assert table.lookup("house-model") == ModelPrice(0.5, 0.5)
    assert table.lookup("claude-sonnet-4-20250514") == ModelPrice(3.0, 15.0, 0.3, 3.75)  # shipped entries remain


def test_settings_prices_path_is_what_load_takes(tmp_path, monkeypatch):
    path = tmp_path / "p.yaml"
    path.write_text("models:\n  house-model: {input: 3, output: 4}\n")
    monkeypatch.setenv("TRACEWATCH_PRICES", str(path))
    assert PriceTable.load(Settings(_env_file=None).prices).lookup("house-model") == ModelPrice(3, 4)


@pytest.mark.parametrize(
    "text, errors",
    [
        ("models:\n  m: {input: 1}\n", ["p.yaml:2: m: missing 'output' (USD per million output tokens)"]),
        ("models:\n  m: {input: one, output: 2}\n", ["p.yaml:2: m: 'input' must be a number ≥ 0, got 'one'"]),
        ("models:\n  m: {input: .nan, output: 2}\n", ["p.yaml:2: m: 'input' must be a number ≥ 0, got nan"]),
        ("models:\n  m: {input: 1, output: 2, cache: 1}\n",
         ["p.yaml:2: m: unknown key 'cache' (allowed: input, output, cached_input, cache_write)"]),
        ("models:\n  m: {input: 1, output: 2}\n  M: {input: 1, output: 2}\n",
         ["p.yaml:3: M: listed twice (first on line 2)"]),
        ("models:\n  m: 3\n", ["p.yaml:2: m: expected {input: USD, output: USD} per million tokens"]),
        ("model:\n  m: {input: 1, output: 2}\n",
         ["p.yaml:1: unknown key 'model' (allowed: models)",
          "p.yaml:1: missing 'models' mapping (model name -> {input, output})"]),
        ("models: [a]\n", ["p.yaml:1: 'models' must be a mapping of model name -> {input: USD, output: USD}"]),
        ("- a\n", ["p.yaml:1: expected a mapping with a 'models' key"]),
        ("", ["p.yaml:1: empty file; expected a mapping with a 'models' key"]),
        ("models:\n  m: {input: 1\n", ["p.yaml:3: not valid YAML: expected ',' or '}', but got '<stream end>'"]),
    ],
)
def test_lint_errors_have_file_and_line(text, errors):
    with pytest.raises(PriceTableError) as info:
        parse_prices(text, "p.yaml")
    assert info.value.errors == errors


def test_unreadable_override_is_a_lint_error(tmp_path):
    with pytest.raises(PriceTableError, match="missing.yaml:1: cannot read price file"):
        PriceTable.load(tmp_path / "missing.yaml")


def test_shipped_file_lints_clean():
    assert parse_prices(SHIPPED_PRICES.read_text(), "prices.yaml")


# ---- issue 16: the served model, cached input and reasoning output --------------------------------


def test_cached_input_is_priced_at_the_cache_rates_and_reasoning_as_output():
    table = PriceTable({"m": ModelPrice(2.0, 8.0, cached_input=0.5, cache_write=2.5)})
    e = event("m", input_tokens=1_000_000, output_tokens=1_000_000, cache_read_input_tokens=600_000,
              cache_creation_input_tokens=100_000, reasoning_output_tokens=400_000)
    # 300k uncached x 2 + 600k read x 0.5 + 100k written x 2.5 + 1M output (reasoning included) x 8
    assert table.price(e) == pytest.approx(0.6 + 0.3 + 0.25 + 8.0)


def test_without_cache_prices_cached_tokens_cost_as_input():
    table = PriceTable({"m": ModelPrice(2.0, 8.0)})
    assert table.price(event("m", cache_read_input_tokens=500_000, cache_creation_input_tokens=1)) == \
        table.price(event("m"))


def test_counts_reported_apart_are_not_taken_from_their_totals():
    """An SDK that reports cache reads beside (not within) input_tokens, or reasoning beyond the output."""
    table = PriceTable({"m": ModelPrice(2.0, 8.0, cached_input=0.5)})
    apart = event("m", input_tokens=100_000, output_tokens=0, cache_read_input_tokens=900_000,
                  reasoning_output_tokens=50_000)
    assert table.price(apart) == pytest.approx(0.2 + 0.45 + 0.4)
    only_reasoning = TraceEvent(trace_id="t", timestamp=0, model="m", reasoning_output_tokens=1_000_000)
    assert table.price(only_reasoning) == pytest.approx(8.0)


def test_the_served_model_is_priced_when_the_table_knows_it(table):
    served = event("gpt-4o", response_model="gpt-4o-mini-2024-07-18")
    assert table.price(served) == table.price(event("gpt-4o-mini"))
    unknown_served = event("gpt-4o", response_model="house-snapshot-17")
    assert table.price(unknown_served) == table.price(event("gpt-4o"))


def test_cache_prices_parse_and_are_checked():
    prices = parse_prices("models:\n  m: {input: 3, output: 15, cached_input: 0.3, cache_write: 3.75}\n")
    assert prices["m"] == ModelPrice(3.0, 15.0, 0.3, 3.75)
    assert repr(prices["m"]) == "ModelPrice(input=3.0, output=15.0, cached_input=0.3, cache_write=3.75)"
    with pytest.raises(PriceTableError) as info:
        parse_prices("models:\n  m: {input: 3, output: 15, cached_input: -1}\n", "p.yaml")
    assert info.value.errors == ["p.yaml:2: m: 'cached_input' must be a number ≥ 0, got -1"]


def test_shipped_cache_prices(table):
    assert table.lookup("gpt-4o").cached_input == 1.25
    anthropic = table.lookup("claude-3-5-sonnet-20241022")
    assert (anthropic.cached_input, anthropic.cache_write) == (0.3, 3.75)
