import subprocess
import sys

MODULES = "print(sum(m.startswith('kubernetes_asyncio.client.') for m in sys.modules))"


def run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}"], capture_output=True, text=True, check=True
    ).stdout.split()


def test_the_runner_loads_a_handful_of_kubernetes_asyncio_modules_not_its_thousand() -> None:
    (lean,) = run(f"import subkube.runner.daemon\n{MODULES}")
    (whole,) = run(f"import kubernetes_asyncio\n{MODULES}")
    assert int(lean) < 20 < 800 < int(whole)


def test_the_typed_api_is_still_there_for_whoever_asks() -> None:
    out = run(
        "import subkube.kube.client\n"
        "from kubernetes_asyncio import client, watch\n"
        "from kubernetes_asyncio.client.models import V1Pod\n"
        "print(client.CoreV1Api.__name__, client.V1Pod is V1Pod, watch.Watch.__name__)\n"
        "print(client.ApiClient is subkube.kube.upstream.ApiClient)"
    )
    assert out == ["CoreV1Api", "True", "Watch", "True"]
