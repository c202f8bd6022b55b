"""The Helm chart's generated files: values.yaml and values.schema.json from the config
models, and the runner's RBAC rules from the registry of synced kinds, so the chart can never
drift from subkube.yaml or from what the enabled kinds need.

    python -m subkube.chart charts/subkube     # rewrite them
"""

import json
import sys
from pathlib import Path
from typing import Any, get_args

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


# What an entry's key fills into a rule, in Helm: `$name` is the key, `$resource` the key
# split at its first dot (Rule.for_entry).
_ENTRY_VALUES = {
    registry.ENTRY_PLURAL: "{{ $resource._0 | quote }}",
    registry.ENTRY_GROUP: "{{ $resource._1 | quote }}",
    registry.ENTRY_NAME: "{{ $name | quote }}",
}


def _entry_condition(kind: registry.Declared) -> str:
    """Helm's test of `$entry` for Declared.entries; an unset field takes the model's default,
    as the config would."""
    model: Any = Sync
    for part in kind.each.split("."):
        model = model.model_fields[part].annotation
    fields = get_args(model)[1].model_fields
    terms = ["$entry.enabled"]
    for name, value in kind.where:
        default = "" if fields[name].is_required() else fields[name].default
        terms.append(f"(eq (default {json.dumps(default)} $entry.{name}) {json.dumps(value)})")
    return terms[0] if len(terms) == 1 else f"and {' '.join(terms)}"


def _rule(rule: registry.Rule) -> list[str]:
    def word(value: str, quoted: bool) -> str:
        return _ENTRY_VALUES.get(value) or (json.dumps(value) if quoted else value)

    lines = [
        f"- apiGroups: [{word(rule.group, True)}]",
        f"  resources: [{', '.join(word(r, False) for r in rule.resources)}]",
        f"  verbs: [{', '.join(rule.verbs)}]",
    ]
    if rule.resource_names:
        lines.append(f"  resourceNames: [{', '.join(word(n, True) for n in rule.resource_names)}]")
    return lines


def _rules(kind: registry.Declared, rules: tuple[registry.Rule, ...]) -> list[str]:
    out = [line for rule in rules for line in _rule(rule)]
    if not kind.each:
        return out
    uses_resource = any("$resource" in line for line in out)
    return [
        f"{{{{- range $name, $entry := .Values.sync.{kind.each} }}}}",
        f"{{{{- if {_entry_condition(kind)} }}}}",
        *(['{{- $resource := splitn "." 2 $name }}'] if uses_resource else []),
        *out,
        "{{- end }}",
        "{{- end }}",
    ]


def rules_tpl() -> str:
    """Two named templates, the Role's rules and the ClusterRole's, each rule under the flags
    that enable its kind (and, for a kind per config entry, in a loop over the enabled
    entries): what `registry.host_rules` gives for the same values."""
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
            out += _rules(kind, rules)
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
