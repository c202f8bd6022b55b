"""The informer cache never goes back in time because of our own writes."""

from typing import Any

from subkube.kube.informer import Informer
from subkube.kube.resource import PODS


def pod(rv: str, phase: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "resourceVersion": rv},
        "status": {"phase": phase},
    }


def informer() -> Informer:
    return Informer(None, PODS)  # type: ignore[arg-type]  # the cache needs no client


def test_a_create_result_fills_an_empty_cache_only() -> None:
    inf = informer()
    inf.write_through(pod("1", "Pending"), None)
    assert inf.get("ns", "p")["metadata"]["resourceVersion"] == "1"
    # The watch was faster than the create's response: keep what it delivered.
    inf.cache[("ns", "p")] = pod("3", "Running")
    inf.write_through(pod("1", "Pending"), None)
    assert inf.get("ns", "p")["status"]["phase"] == "Running"


def test_an_update_result_replaces_only_what_it_was_based_on() -> None:
    inf = informer()
    base = pod("5", "Pending")
    inf.cache[("ns", "p")] = base
    inf.write_through(pod("6", "Pending"), base)
    assert inf.get("ns", "p")["metadata"]["resourceVersion"] == "6"
    inf.cache[("ns", "p")] = pod("8", "Running")
    inf.write_through(pod("7", "Pending"), base)
    assert inf.get("ns", "p")["metadata"]["resourceVersion"] == "8"


def test_an_index_follows_each_put_and_drop_without_reading_the_old_object() -> None:
    inf = informer()
    inf.write_through(pod("1", "Pending"), None)
    inf.add_index("phase", lambda o: [o["status"]["phase"]])
    assert inf.keys_by_index("phase", "Pending") == [("ns", "p")]
    # A put never decodes what it replaces: the index knows the key's old values.
    del inf.cache[("ns", "p")]
    inf._put(("ns", "p"), pod("2", "Running"))
    assert inf.index_values("phase") == ["Running"]
    assert inf.keys_by_index("phase", "Running") == [("ns", "p")]
    inf._drop(("ns", "p"))
    assert inf.index_values("phase") == []
