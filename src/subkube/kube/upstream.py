"""The parts of kubernetes_asyncio subkube uses, imported without the rest.

The package's __init__ modules import every generated API and model class: 34 MB of memory
in each runner and CLI process and about a quarter of a second at each start, for types
subkube never builds (it speaks JSON as dicts). So its packages are made here without running their
__init__, and the modules used are imported one by one. A package's __init__ still runs on
the first use of a name it would have defined, so any code that wants the typed API gets it.
"""

import importlib.util
import sys
from types import ModuleType
from typing import Any


def _deferred_package(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"{name} is not installed: run `make setup`")
    package = importlib.util.module_from_spec(spec)

    def complete(attr: str) -> Any:
        # `from package import submodule` asks the package for the name first.
        if not attr.startswith("__") and importlib.util.find_spec(f"{name}.{attr}"):
            return importlib.import_module(f"{name}.{attr}")
        del package.__getattr__
        spec.loader.exec_module(package)  # type: ignore[union-attr]
        return getattr(package, attr)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[name] = package
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, package)


for _name in (
    "kubernetes_asyncio",
    "kubernetes_asyncio.client",
    "kubernetes_asyncio.client.models",
):
    _deferred_package(_name)

from kubernetes_asyncio.client import rest  # noqa: E402
from kubernetes_asyncio.client.api_client import ApiClient  # noqa: E402
from kubernetes_asyncio.client.configuration import Configuration  # noqa: E402

_client: ModuleType = sys.modules["kubernetes_asyncio.client"]
# What kubernetes_asyncio.config takes from its client package.
_client.ApiClient = ApiClient
_client.Configuration = Configuration

from kubernetes_asyncio.config.config_exception import ConfigException  # noqa: E402
from kubernetes_asyncio.config.kube_config import load_kube_config  # noqa: E402

__all__ = ["ApiClient", "ConfigException", "Configuration", "load_kube_config", "rest"]
