import copy

from hypothesis import given
from hypothesis import strategies as st

from subkube.kube.copying import json_copy

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=30,
)


@given(JSON)
def test_a_copy_equals_what_deepcopy_makes(value: object) -> None:
    assert json_copy(value) == copy.deepcopy(value)


def test_a_copy_shares_nothing_with_its_original() -> None:
    pod = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
    out = json_copy(pod)
    out["metadata"]["labels"]["app"] = "changed"
    out["spec"]["containers"].append({"name": "d"})
    assert pod == {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}}
