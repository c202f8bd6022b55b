"""Custom resources (sync.toHost.customResources, sync.fromHost.customResources): one kind
per configured CRD, on the to-host or the from-host rules.

The definition always comes from the host, where the operator that acts on the objects
runs: at start the kind reads it (a clear error if it is missing or does not fit the
config), copies it inside (re-read and re-copied at every start; never removed, so tenant
objects outlive a config change) and takes the version it reads and writes from it.
subkube never installs a definition on the host.
"""

from subkube.aio import poll_until
from subkube.config.model import FromHostCustomResource, Sync, ToHostCustomResource
from subkube.errors import SubkubeError
from subkube.kube.informer import Informer, Key
from subkube.kube.resource import CRDS, NAMESPACES
from subkube.kube.rest import ApiError, Kube, Obj
from subkube.syncer import engine
from subkube.syncer.context import SyncContext
from subkube.syncer.fromhost import FromHost
from subkube.syncer.resources.customresources import translate
from subkube.syncer.tohost import ToHost

ESTABLISH_TIMEOUT = 60.0


def configured(sync: Sync) -> list[tuple[str, str, ToHostCustomResource | FromHostCustomResource]]:
    """(direction, CRD name, entry) of every enabled custom resource."""
    return [
        (direction, name, entry)
        for direction in ("toHost", "fromHost")
        for name, entry in sorted(getattr(sync, direction).customResources.items())
        if entry.enabled
    ]


async def host_definition(host: Kube, direction: str, name: str, scope: str) -> Obj:
    """The host's CustomResourceDefinition NAME, or a one-line error saying what to do."""
    crd = await host.get_or_none(CRDS, name)
    problem = translate.definition_problem(crd, name=name, direction=direction, scope=scope)
    if problem is not None or crd is None:
        raise SubkubeError(f"sync.{direction}.customResources.{name}: {problem}")
    return crd


async def check_host_definitions(host: Kube, sync: Sync) -> None:
    """Refuse, before anything starts, custom resources the host cannot serve."""
    for direction, name, entry in configured(sync):
        await host_definition(host, direction, name, entry.scope)


async def copy_definition(virtual: Kube, crd: Obj, timeout: float = ESTABLISH_TIMEOUT) -> None:
    """Make the virtual definition the host's, and wait until the virtual API serves it."""
    name = crd["metadata"]["name"]
    await virtual.apply(CRDS, translate.virtual_definition(crd))

    async def served() -> bool:
        return translate.established(await virtual.get(CRDS, name))

    if not await poll_until(served, timeout, 0.1):
        raise SubkubeError(
            f"the vcluster's API server did not serve {name} within {timeout:.0f}s; see its log"
        )


class DefinedOnHost(engine.Kind):
    """A kind whose resource a CRD on the host defines."""

    direction = ""
    status_subresource = True

    def __init__(self, ctx: SyncContext, crd_name: str, scope: str) -> None:
        super().__init__(ctx)
        self.crd_name = crd_name
        self.scope = scope

    async def setup(self) -> None:
        crd = await host_definition(self.ctx.host, self.direction, self.crd_name, self.scope)
        await copy_definition(self.ctx.virtual, crd)
        self.define(crd)

    def define(self, crd: Obj) -> None:
        """Take the resource, its version and its status subresource from CRD."""
        version = translate.served_version(crd)
        assert version is not None  # host_definition refused a definition without one
        self.resource = translate.resource_of(crd, version)
        self.status_subresource = translate.has_status(crd, version)


class CustomResourcesToHost(DefinedOnHost, ToHost):
    """Tenant objects copied to the host namespace, where the host's operator acts on them;
    the status it writes comes back inside."""

    direction = "toHost"

    def __init__(self, ctx: SyncContext, crd_name: str, entry: ToHostCustomResource) -> None:
        super().__init__(ctx, crd_name, entry.scope)
        self.name = crd_name

    def define(self, crd: Obj) -> None:
        super().define(crd)
        # Events the operator writes about a host copy come back inside, as for the built-in
        # kinds (runs before the events kind starts; a kind name already taken is left).
        self.ctx.to_host_kinds.setdefault(self.resource.kind, self.resource)

    def to_host(self, vobj: Obj) -> Obj:
        return translate.to_host(
            vobj,
            kind=self.resource.kind,
            vcluster=self.ctx.vcluster,
            host_namespace=self.ctx.host_namespace,
            owner=self.ctx.owner_reference,
        )

    def host_update(self, vobj: Obj, desired: Obj, actual: Obj) -> Obj | None:
        return translate.host_update(desired, actual)

    def virtual_update(self, vobj: Obj, hobj: Obj) -> Obj | None:
        return translate.status_update(vobj, hobj)


class CustomResourcesFromHost(DefinedOnHost, FromHost):
    """Host objects with the configured labels copied inside, read-only, status included: a
    cluster-scoped one under its name, a namespaced one of the vcluster's own host namespace
    in the configured virtual namespace (made if missing)."""

    direction = "fromHost"

    def __init__(self, ctx: SyncContext, crd_name: str, entry: FromHostCustomResource) -> None:
        super().__init__(ctx, crd_name, entry.scope)
        self.name = f"host-{crd_name}"
        self.host_selector = translate.host_selector(entry.selector.labels)
        # Namespaced: the host namespace's objects appear in this virtual namespace.
        self.namespace = entry.namespace
        if self.namespace:
            self.host_namespace = ctx.host_namespace

    def watch(self) -> list[Informer]:
        informers = super().watch()
        if not self.namespace:
            return informers
        self.namespaces = self.ctx.cache.informer("virtual", NAMESPACES)
        return [*informers, self.namespaces]

    def virtual_key(self, hobj: Obj) -> Key:
        return self.namespace, hobj["metadata"]["name"]

    def host_key(self, key: Key) -> Key | None:
        namespace, name = key
        if namespace != self.namespace:
            return None
        return self.host_namespace or "", name

    def to_virtual(self, hobj: Obj) -> Obj:
        return translate.to_virtual(hobj, namespace=self.namespace or None)

    def is_copy(self, vobj: Obj) -> bool:
        return translate.is_copy(vobj)

    def differs(self, desired: Obj, vobj: Obj) -> bool:
        with_status = not self.status_subresource
        if translate.copy_patch(desired, vobj, with_status=with_status) is not None:
            return True
        return not with_status and translate.status_patch(desired, vobj) is not None

    async def create_copy(self, desired: Obj) -> Obj | None:
        await self._ensure_namespace()
        created = await super().create_copy(desired)
        if created is not None:
            await self._write_status(desired, created)
        return created

    async def update_copy(self, desired: Obj, vobj: Obj) -> None:
        """Custom resources change in place (a tenant's edit is undone by a patch)."""
        patch = translate.copy_patch(desired, vobj, with_status=not self.status_subresource)
        if patch is not None:
            meta = vobj["metadata"]
            patch.setdefault("metadata", {})["resourceVersion"] = meta["resourceVersion"]
            updated = await self.ctx.virtual.patch(
                self.resource, meta["name"], patch, meta.get("namespace")
            )
            self.virtual.write_through(updated, vobj)
            self.count("update")
            vobj = updated
        await self._write_status(desired, vobj)

    async def _write_status(self, desired: Obj, vobj: Obj) -> None:
        patch = translate.status_patch(desired, vobj)
        if not self.status_subresource or patch is None:
            return
        meta = vobj["metadata"]
        written = await self.ctx.virtual.patch(
            self.resource,
            meta["name"],
            {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": patch},
            meta.get("namespace"),
            subresource="status",
        )
        self.virtual.write_through(written, vobj)
        self.count("status")

    async def _ensure_namespace(self) -> None:
        if not self.namespace or self.namespaces.get("", self.namespace) is not None:
            return
        try:
            await self.ctx.virtual.create(NAMESPACES, {"metadata": {"name": self.namespace}})
        except ApiError as exc:
            if not exc.already_exists:
                raise
