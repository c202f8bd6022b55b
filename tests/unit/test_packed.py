"""The informer's packed cache: objects kept as compact JSON, each read a fresh copy."""

from subkube.kube.packed import Packed


def test_what_is_stored_is_read_back_equal_and_never_shared() -> None:
    cache: Packed[tuple[str, str]] = Packed()
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"x": ["é", 1, None, True]}}
    cache[("ns", "p")] = pod
    pod["spec"]["x"].append("later")
    read = cache[("ns", "p")]
    assert read == {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"x": ["é", 1, None, True]},
    }
    read["metadata"]["name"] = "changed"
    assert cache[("ns", "p")]["metadata"]["name"] == "p"


def test_it_is_a_mapping() -> None:
    cache: Packed[str] = Packed()
    cache["a"] = {"v": 1}
    cache["b"] = {"v": 2}
    assert len(cache) == 2
    assert "a" in cache
    assert "c" not in cache
    assert cache.get("c") is None
    assert sorted(cache) == ["a", "b"]
    assert [v["v"] for v in cache.values()] == [1, 2]
    assert cache.pop("a") == {"v": 1}
    assert cache.pop("a", None) is None
    del cache["b"]
    assert not cache
