"""The Helm chart's values.yaml and values.schema.json, generated from the config models so
the chart and subkube.yaml can never drift apart.

    python -m subkube.config.chart charts/subkube     # rewrite both files
"""

import json
import sys
from pathlib import Path

import yaml

from subkube.config.load import json_schema
from subkube.config.model import Config

HEADER = """\
# Values of the subkube chart: exactly the schema of subkube.yaml (`subkube config schema`).
# Generated from the config models by `python -m subkube.config.chart charts/subkube`;
# edit the models, not this file.
"""


def values_yaml() -> str:
    return HEADER + yaml.safe_dump(Config().model_dump(mode="json"), sort_keys=False)


def schema_json() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


def write(chart_dir: Path) -> None:
    (chart_dir / "values.yaml").write_text(values_yaml())
    (chart_dir / "values.schema.json").write_text(schema_json())


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "charts/subkube"))
