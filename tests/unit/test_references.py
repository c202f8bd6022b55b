"""Which ConfigMaps and Secrets reach the host: referenced, forced, or all."""

from subkube.syncer.references import FORCE_SYNC_ANNOTATION, ReferenceIndex
from subkube.syncer.resources.configmaps.syncer import ConfigMaps


def pod(name: str, configmap: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"volumes": [{"name": "c", "configMap": {"name": configmap}}]},
    }


def cm(name: str, **annotations: str) -> dict:
    return {"metadata": {"name": name, "namespace": "demo", "annotations": annotations}}


def test_referenced_forced_and_all() -> None:
    refs = ReferenceIndex()
    changed: list[tuple[str, str, str]] = []
    refs.listeners.append(lambda *key: changed.append(key))
    kind = ConfigMaps(None, refs, sync_all=False)  # type: ignore[arg-type]  # no I/O here
    refs.on_pod("ADDED", pod("a", "cfg"))
    refs.on_pod("ADDED", pod("b", "cfg"))
    assert kind.wanted(cm("cfg"))
    assert not kind.wanted(cm("other"))
    assert kind.wanted(cm("other", **{FORCE_SYNC_ANNOTATION: "true"}))
    refs.on_pod("DELETED", pod("a", "cfg"))
    assert kind.wanted(cm("cfg")), "b still uses it"
    refs.on_pod("MODIFIED", pod("b", "new"))
    assert not kind.wanted(cm("cfg"))
    assert changed == [
        ("configmaps", "demo", "cfg"),
        ("configmaps", "demo", "new"),
        ("configmaps", "demo", "cfg"),
    ]
    assert ConfigMaps(None, None, sync_all=True).wanted(cm("any"))  # type: ignore[arg-type]
