import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from subkube.config.load import LEGACY_KEYS, load, parse_set
from subkube.config.model import Policies
from subkube.config.schedule import next_fire, parse_duration
from subkube.errors import SubkubeError
from subkube.runner import policies
from tests.conftest import subkube


def write(tmp_path: Path, text: str, name: str = "subkube.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_match_the_reference_behaviour() -> None:
    config, warnings = load()
    assert warnings == []
    to_host, from_host = config.sync.toHost, config.sync.fromHost
    for on in ("pods", "services", "endpoints", "persistentVolumeClaims", "configMaps", "secrets"):
        assert getattr(to_host, on).enabled, on
    for off in (
        "ingresses",
        "networkPolicies",
        "serviceAccounts",
        "priorityClasses",
        "podDisruptionBudgets",
        "persistentVolumes",
        "storageClasses",
    ):
        assert not getattr(to_host, off).enabled, off
    assert not to_host.configMaps.all
    assert from_host.events.enabled
    assert not from_host.nodes.enabled
    assert config.controlPlane.backingStore.chosen == "database.embedded"
    assert config.networking.clusterDomain == "cluster.local"
    # Secure by default: the syncer and the host refuse what baseline forbids.
    assert config.policies.podSecurityStandard == "baseline"
    assert config.controlPlane.advanced.host_grace == 300


def test_files_merge_in_order_and_set_wins(tmp_path: Path) -> None:
    a = write(tmp_path, "sync:\n  toHost:\n    ingresses: {enabled: true}\n", "a.yaml")
    b = write(tmp_path, "sync:\n  toHost:\n    configMaps: {all: true}\n", "b.yaml")
    config, _ = load(
        [a, b], ["sync.toHost.ingresses.enabled=false", "controlPlane.apiServer.extraArgs=[--v=4]"]
    )
    assert config.sync.toHost.configMaps.all
    assert not config.sync.toHost.ingresses.enabled
    assert config.controlPlane.apiServer.as_dict() == {"v": "4"}


@pytest.mark.parametrize(("old", "new"), list(LEGACY_KEYS.items()))
def test_every_legacy_key_is_accepted_with_a_warning(
    tmp_path: Path, old: tuple[str, ...], new: tuple[str, ...]
) -> None:
    text = ""
    for depth, key in enumerate(old[:-1]):
        text += "  " * depth + f"{key}:\n"
    text += "  " * (len(old) - 1) + f"{old[-1]}: true\n"
    config, warnings = load([write(tmp_path, text)])
    value: object = config
    for key in new:
        value = getattr(value, key)
    assert value is True
    assert len(warnings) == 1
    assert ".".join(old) in warnings[0]
    assert ".".join(new) in warnings[0]


def test_legacy_keys_work_with_set_too() -> None:
    config, warnings = load(sets=["sync.nodes.enabled=true", "sync.nodes.syncAllNodes=true"])
    assert config.sync.fromHost.nodes.enabled
    assert config.sync.fromHost.nodes.selector.all
    assert len(warnings) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sync:\n  toHost:\n    podz: {enabled: true}\n", "sync.toHost.podz: unknown key"),
        ("sync:\n  toHost:\n    pods: {enabled: maybe}\n", "sync.toHost.pods.enabled:"),
        ("networking: {clusterDomain: [a]}\n", "networking.clusterDomain:"),
        ("policies: {podSecurityStandard: strict}\n", "policies.podSecurityStandard:"),
        (
            "sync:\n  toHost: {storageClasses: {enabled: true}}\n"
            "  fromHost: {storageClasses: {enabled: true}}\n",
            "cannot be synced in both directions",
        ),
        (
            "controlPlane:\n  backingStore:\n    etcd: {embedded: {enabled: true}}\n"
            "    database: {embedded: {enabled: true}}\n",
            "choose one backing store",
        ),
        ("controlPlane: {apiServer: {extraArgs: [v=4]}}\n", "look like --flag=value"),
        (
            "sync: {toHost: {customResources: {widgets: {enabled: true}}}}\n",
            "sync.toHost.customResources: 'widgets' is not a CustomResourceDefinition name",
        ),
        (
            "sync: {toHost: {customResources: {widgets.example.com: {scope: Cluster}}}}\n",
            "sync.toHost.customResources.widgets.example.com: only namespaced custom resources",
        ),
        (
            "sync: {fromHost: {customResources: {gadgets.example.com: {enabled: true}}}}\n",
            "sync.fromHost.customResources.gadgets.example.com.scope: Field required",
        ),
        (
            "sync: {fromHost: {customResources: {gadgets.example.com: {scope: Namespaced}}}}\n",
            "scope Namespaced needs namespace",
        ),
        (
            "sync:\n  toHost: {customResources: {w.example.com: {enabled: true}}}\n"
            "  fromHost: {customResources: {w.example.com: {enabled: true, scope: Cluster}}}\n",
            "customResources.w.example.com cannot be synced in both directions",
        ),
        (
            "controlPlane: {advanced: {certificates: {leafLifetime: 30s}}}\n",
            "controlPlane.advanced.certificates.leafLifetime: '30s' is too short; at least 1m",
        ),
        (
            "snapshots: {credentialsSecret: S3_Keys}\n",
            "snapshots.credentialsSecret: 'S3_Keys' is not a Secret name",
        ),
        (
            "sleepMode: {autoSleep: {schedule: '61 * * * *'}}\n",
            "sleepMode.autoSleep.schedule: '61 * * * *' is not a cron schedule",
        ),
        (
            "sleepMode: {autoWakeup: {schedule: '0 8 * * *', timezone: Mars/Olympus}}\n",
            "sleepMode.autoWakeup.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            "sleepMode: {autoSleep: {afterInactivity: 20 minutes}}\n",
            "sleepMode.autoSleep.afterInactivity: '20 minutes' is not a duration",
        ),
        ("snapshots: {schedule: '0 3 * * *'}\n", "snapshots.schedule needs snapshots.to"),
        ("- a\n- b\n", "must be a mapping"),
        ("sync: [\n", "not valid YAML"),
    ],
)
def test_bad_config_names_the_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SubkubeError) as info:
        load([write(tmp_path, text)])
    assert message in str(info.value)


def test_bad_set_syntax() -> None:
    with pytest.raises(SubkubeError, match=r"expected key\.path=value"):
        parse_set(["novalue"])


def test_cli_schema_and_validate(tmp_path: Path) -> None:
    schema = json.loads(subkube("config", "schema").stdout)
    assert "sync" in schema["properties"]
    good = write(tmp_path, "sync:\n  hoststorageclasses: {enabled: true}\n", "good.yaml")
    res = subkube("config", "validate", str(good))
    assert res.returncode == 0, res.stderr
    assert "sync.hoststorageclasses.enabled is an old option name" in res.stderr
    bad = write(tmp_path, "sync: {toHost: {pods: {enabled: 3x}}}\n", "bad.yaml")
    res = subkube("config", "validate", str(bad))
    assert res.returncode == 1
    assert "sync.toHost.pods.enabled" in res.stderr
    assert "Traceback" not in res.stderr
    missing = subkube("config", "validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert "cannot read config" in missing.stderr


def test_policies_become_host_objects_owned_by_the_vcluster(tmp_path: Path) -> None:
    owner = {"metadata": {"name": "vc1", "uid": "u1"}}
    assert policies.host_objects(Policies(), vcluster="vc1", namespace="ns", owner=owner) == []
    on = Policies.model_validate(
        {
            "resourceQuota": {"enabled": True},
            "limitRange": {"enabled": True},
            "networkPolicy": {"enabled": True},
        }
    )
    objs = dict(policies.host_objects(on, vcluster="vc1", namespace="ns", owner=owner))
    assert set(objs) == {"resourcequotas", "limitranges", "networkpolicies"}
    assert objs["resourcequotas"]["spec"]["hard"]["pods"] == "50"
    assert all(o["metadata"]["ownerReferences"][0]["uid"] == "u1" for o in objs.values())
    path = policies.admission_config("baseline", tmp_path / "a.yaml")
    conf = yaml.safe_load(path.read_text())["plugins"][0]["configuration"]
    assert conf["defaults"]["enforce"] == "baseline"
    assert conf["exemptions"]["namespaces"] == [], (
        "the syncer exempts no namespace, nor does admission"
    )


def test_schedules_fire_in_their_time_zone() -> None:
    after = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    assert next_fire("0 20 * * *", "Europe/Berlin", after) == dt.datetime(
        2026, 11, 26, 19, 0, tzinfo=dt.UTC
    )
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
