"""The Grafana dashboard and the Helm chart that ships it.

Every metric name a dashboard query uses must exist in a real exposition of the library. ``helm`` is not
available offline (not packaged in Debian), so the chart is checked structurally: its YAML files, every
``.Values`` reference against values.yaml, block balance of the templates, and no admin password anywhere.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from synapsekit._pricing.prices import clear_price_overrides
from synapsekit._prometheus.metrics import PrometheusMetrics

from ._prom_workers import (
    DASHBOARD_PATH,
    dashboard_exprs,
    dashboard_panels,
    dashboard_variable_queries,
    load_dashboard,
    metric_names_in,
    record_known_batch,
    set_offline_prices,
)

CHART = DASHBOARD_PATH.parents[1]
TEMPLATES = CHART / "templates"
DASHBOARD = load_dashboard()


@pytest.fixture(scope="module")
def exposed_names() -> set[str]:
    """Every sample name in a real exposition after a batch of calls that exercises every metric."""
    set_offline_prices()
    metrics = PrometheusMetrics()
    metrics.attach()
    try:
        asyncio.run(record_known_batch(0.0))
        text = metrics.expose().decode()
    finally:
        metrics.close()
        clear_price_overrides()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


# -- the dashboard -------------------------------------------------------------------------------------------
def test_every_metric_name_in_the_dashboard_is_emitted(exposed_names: set[str]) -> None:
    used = set().union(
        *(metric_names_in(q) for q in [*dashboard_exprs(DASHBOARD), *dashboard_variable_queries(DASHBOARD)])
    )
    assert used == {
        "synapsekit_cost_usd_total",
        "synapsekit_tokens_total",
        "synapsekit_tokens_by_type_total",
        "synapsekit_requests_total",
        "synapsekit_errors_total",
        "synapsekit_unknown_cost_calls_total",
        "synapsekit_latency_seconds_bucket",
        "synapsekit_latency_seconds_sum",
        "synapsekit_latency_seconds_count",
        "synapsekit_time_to_first_chunk_seconds_bucket",
        "synapsekit_budget_remaining_usd",
        "synapsekit_budget_rejections_total",
    }
    assert used <= exposed_names, used - exposed_names


def panel_exprs(title: str) -> list[str]:
    (panel,) = [p for p in dashboard_panels(DASHBOARD) if p["title"] == title]
    return [target["expr"] for target in panel["targets"]]


def test_required_panels() -> None:
    (cost,) = panel_exprs("Cost rate by model")
    assert cost.startswith("sum by (model) (rate(synapsekit_cost_usd_total{")
    (tokens,) = panel_exprs("Tokens by type")
    assert tokens.startswith("sum by (type) (rate(synapsekit_tokens_by_type_total{")
    quantiles = panel_exprs("Latency quantiles")
    assert [q.split(",", 1)[0] for q in quantiles] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
    ]
    assert all("synapsekit_latency_seconds_bucket" in q and "sum by (le)" in q for q in quantiles)
    (errors,) = panel_exprs("Error rate by type")
    assert errors.startswith("sum by (error_type) (rate(synapsekit_errors_total{")
    (remaining,) = panel_exprs("Budget remaining")
    assert remaining == "min by (budget, window) (synapsekit_budget_remaining_usd)"


def test_dashboard_structure() -> None:
    assert DASHBOARD["uid"] == "synapsekit-llm"
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard_panels(DASHBOARD):
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        assert ref_ids, panel["title"]
    variables = {var["name"]: var for var in DASHBOARD["templating"]["list"]}
    assert set(variables) == {"datasource", "provider", "model"}
    assert variables["datasource"]["query"] == "prometheus"


def test_filtered_queries_use_both_filters() -> None:
    for expr in dashboard_exprs(DASHBOARD):
        if "budget" in expr:
            continue  # budgets are not per model
        for selector in re.findall(r"synapsekit_\w+(\{[^}]*\})", expr):
            assert selector == '{provider=~"$provider", model=~"$model"}', expr


def test_only_metric_names_carry_the_default_prefix() -> None:
    # The chart rewrites "synapsekit_" to the application's metric namespace: nothing else may contain it.
    text = DASHBOARD_PATH.read_text()
    for match in re.finditer(r"synapsekit_\w*", text):
        line = text[: match.start()].rsplit("\n", 1)[-1]
        assert '"expr"' in line or '"definition"' in line or '"query"' in line or '"description"' in line


# -- the Helm chart ------------------------------------------------------------------------------------------
def yaml_keys(text: str) -> set[str]:
    """Dotted paths of the mapping keys in a block-style YAML document (the subset values.yaml uses)."""
    paths: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = re.match(r"^( *)([A-Za-z_][A-Za-z0-9_]*):(?:\s|$)", line)
        if match is None:
            continue
        indent, key = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        paths.add(".".join(name for _, name in stack))
    return paths


def test_chart_metadata() -> None:
    chart = (CHART / "Chart.yaml").read_text()
    assert re.search(r"^apiVersion: v2$", chart, re.M)
    assert re.search(r"^name: synapsekit-observability$", chart, re.M)
    assert re.search(r"^version: \d+\.\d+\.\d+$", chart, re.M)
    assert "dependencies" not in chart  # installs offline


def test_every_values_reference_exists_in_values_yaml() -> None:
    keys = yaml_keys((CHART / "values.yaml").read_text())
    referenced = {
        path
        for template in TEMPLATES.iterdir()
        for path in re.findall(r"\$?\.Values\.([A-Za-z0-9_.]+)", template.read_text())
    }
    assert referenced, "templates reference no values"
    assert referenced <= keys, referenced - keys
    for required in ("namespace", "metricsNamespace", "scrape.targets", "grafana.admin.existingSecret"):
        assert required in keys


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.iterdir()), ids=str)
def test_template_blocks_are_balanced(template: str) -> None:
    text = (TEMPLATES / template).read_text()
    assert text.count("{{") == text.count("}}")
    opened = len(re.findall(r"\{\{-?\s*(?:if|range|with|define)\b", text))
    closed = len(re.findall(r"\{\{-?\s*end\s*-?\}\}", text))
    assert opened == closed


def test_no_hard_coded_admin_password() -> None:
    values = (CHART / "values.yaml").read_text()
    assert not re.search(r"^\s*(admin)?[Pp]assword:", values, re.M)
    secret = (TEMPLATES / "grafana-secret.yaml").read_text()
    assert "randAlphaNum 32 | b64enc" in secret
    assert "if not .Values.grafana.admin.existingSecret" in secret
    deployment = (TEMPLATES / "grafana-deployment.yaml").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD\n              valueFrom:\n                secretKeyRef:" in deployment


def test_chart_ships_the_dashboard_and_scrapes_the_configured_target() -> None:
    dashboards = (TEMPLATES / "grafana-dashboards-configmap.yaml").read_text()
    assert '.Files.Glob "dashboards/*.json"' in dashboards
    assert 'replace "synapsekit_" (printf "%s_" $.Values.metricsNamespace)' in dashboards
    assert sorted(p.name for p in (CHART / "dashboards").iterdir()) == ["synapsekit-llm.json"]
    json.loads(DASHBOARD_PATH.read_text())
    config = (TEMPLATES / "prometheus-configmap.yaml").read_text()
    assert "range .Values.scrape.targets" in config
    for template in TEMPLATES.glob("*.yaml"):
        text = template.read_text()
        if "kind:" in text:
            assert 'namespace: {{ include "synapsekit-observability.namespace" . }}' in text or (
                "namespace: {{ $namespace }}" in text
            ), template.name
