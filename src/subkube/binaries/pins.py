"""The pinned upstream versions, read from versions.toml (the single source of truth)."""

import tomllib
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict


class _Pin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class KubernetesPin(_Pin):
    version: str
    binaries: list[str]

    @property
    def staging_version(self) -> str:
        """Staging modules (k8s.io/api, …) are tagged v0.X.Y for Kubernetes v1.X.Y."""
        _, minor, patch = self.version.lstrip("v").split(".")
        return f"v0.{minor}.{patch}"


class GoModulePin(_Pin):
    module: str
    version: str


class EtcdPin(_Pin):
    wheel: str
    wheel_version: str
    wheel_sha256: str
    version: str


class KubectlLayerPin(_Pin):
    wheel: str
    wheel_version: str
    wheel_sha256: str
    kubectl_version: str
    helm_version: str


class Pins(_Pin):
    kubernetes: KubernetesPin
    kine: GoModulePin
    kwok: GoModulePin
    etcd: EtcdPin
    versitygw: GoModulePin
    kubectl_layer: KubectlLayerPin


@cache
def load_pins() -> Pins:
    text = resources.files("subkube.binaries").joinpath("versions.toml").read_text()
    return Pins.model_validate(tomllib.loads(text))
