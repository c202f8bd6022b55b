from pathlib import Path

from subkube import chart

CHART = Path(__file__).parents[2] / "charts" / "subkube"


def test_chart_values_and_schema_are_generated_from_the_models() -> None:
    assert (CHART / "values.yaml").read_text() == chart.values_yaml(), (
        "run: python -m subkube.chart charts/subkube"
    )
    assert (CHART / "values.schema.json").read_text() == chart.schema_json(), (
        "run: python -m subkube.chart charts/subkube"
    )
    assert (CHART / chart.RULES_TEMPLATE).read_text() == chart.rules_tpl(), (
        "run: python -m subkube.chart charts/subkube"
    )
