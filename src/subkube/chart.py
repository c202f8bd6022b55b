"""The Helm chart's generated files: values.yaml and values.schema.json from the config
models, and the runner's RBAC rules from the registry of synced kinds, so the chart can never
drift from subkube.yaml or from what the enabled kinds need.

    python -m subkube.chart charts/subkube     # rewrite them
"""

import json
import sys
from pathlib import Path

import yaml

from subkube.config.load import json_schema
from subkube.config.model import Config, Sync
from subkube.syncer import registry

RULES_TEMPLATE = Path("templates") / "_rules.tpl"

HEADER = """\
# Values of the subkube chart: exactly the schema of subkube.yaml (`subkube config schema`).
# Generated from the config models by `python -m subkube.chart charts/subkube`;
# edit the models, not this file.
"""


def values_yaml() -> str:
    return HEADER + yaml.safe_dump(Config().model_dump(mode="json"), sort_keys=False)


def schema_json() -> str:
    return json.dumps(json_schema(), indent=2) + "\n"


def _condition(flags: tuple[str, ...]) -> str:
    def value(flag: str) -> str:
        if flag.startswith("!"):
            return f"(not {value(flag[1:])})"
        toggle = not isinstance(registry.flag_value(Sync(), flag), bool)
        return f".Values.sync.{flag}" + (".enabled" if toggle else "")

    paths = [value(f) for f in flags]
    return paths[0] if len(paths) == 1 else f"and {' '.join(paths)}"


def rules_tpl() -> str:
    """Two named templates, the Role's rules and the ClusterRole's, each rule under the flags
    that enable its kind: what `registry.host_rules` gives for the same values."""
    out = [
        "{{/* Generated from subkube.syncer.registry by `python -m subkube.chart charts/subkube`;",
        "     edit the registry, not this file. */}}",
    ]
    for template, field in (
        ("subkube.hostRules", "rules"),
        ("subkube.clusterRules", "cluster_rules"),
    ):
        out.append(f'{{{{- define "{template}" -}}}}')
        for kind in registry.KINDS:
            rules = getattr(kind, field)
            if not rules:
                continue
            if kind.flags:
                out.append(f"{{{{- if {_condition(kind.flags)} }}}}")
            for rule in rules:
                out.append(f"- apiGroups: [{json.dumps(rule.group)}]")
                out.append(f"  resources: [{', '.join(rule.resources)}]")
                out.append(f"  verbs: [{', '.join(rule.verbs)}]")
            if kind.flags:
                out.append("{{- end }}")
        out.append("{{- end -}}")
    return "\n".join(out) + "\n"


def write(chart_dir: Path) -> None:
    (chart_dir / "values.yaml").write_text(values_yaml())
    (chart_dir / "values.schema.json").write_text(schema_json())
    (chart_dir / RULES_TEMPLATE).write_text(rules_tpl())


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "charts/subkube"))
