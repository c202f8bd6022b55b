"""The Ingresses kind on an in-memory API: an Ingress lands translated, the TLS Secrets it
names sync because of it (and only while it names them), the host's load-balancer status
comes back inside, and deleting it inside deletes its host copy."""

from subkube.kube.resource import INGRESSES, SECRETS
from subkube.kube.rest import Obj
from subkube.syncer import names
from subkube.syncer.resources.ingresses.kind import Ingresses
from subkube.syncer.resources.secrets.kind import Secrets
from tests.unit.rig import HOST_NS, NS, VC, Rig, eventually, rig_fixture

# Secrets only because something uses them, as by default.
rig = rig_fixture({"toHost": {"ingresses": {"enabled": True}}}, Secrets, Ingresses)


def secret(name: str) -> Obj:
    return {
        "metadata": {"name": name, "namespace": NS},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"},
    }


def ingress(tls_secret: str | None = "web-tls") -> Obj:
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    spec: Obj = {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "web.example.com",
                "http": {
                    "paths": [
                        {"path": "/", "pathType": "Prefix", "backend": backend},
                        {
                            "path": "/api",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "api", "port": {"number": 8080}}},
                        },
                    ]
                },
            }
        ],
    }
    if tls_secret:
        spec["tls"] = [{"hosts": ["web.example.com"], "secretName": tls_secret}]
    return {"metadata": {"name": "web", "namespace": NS}, "spec": spec}


async def test_an_ingress_lands_translated_with_its_tls_secret(rig: Rig) -> None:
    await rig.virtual.create(SECRETS, secret("web-tls"))
    await rig.virtual.create(SECRETS, secret("unused"))
    made = await rig.virtual.create(INGRESSES, ingress())

    copy = await eventually(lambda: rig.host_copy(INGRESSES, "web"), "the host Ingress")
    assert copy["metadata"]["annotations"][names.ANNOTATION_UID] == made["metadata"]["uid"]
    spec = copy["spec"]
    assert spec["ingressClassName"] == "nginx", "the class is the host's"
    paths = spec["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == [
        names.host_name("web", NS, VC),
        names.host_name("api", NS, VC),
    ]
    assert spec["tls"][0]["secretName"] == names.host_name("web-tls", NS, VC)

    tls = await eventually(lambda: rig.host_copy(SECRETS, "web-tls"), "the TLS Secret")
    assert tls["type"] == "kubernetes.io/tls"
    await rig.idle()
    assert await rig.host_copy(SECRETS, "unused") is None, "only what the Ingress names syncs"

    # The Ingress stops naming it: the Secret leaves the host, the Ingress stays.
    await rig.virtual.patch(INGRESSES, "web", {"spec": {"tls": None}}, NS)

    async def secret_gone() -> bool:
        return await rig.host_copy(SECRETS, "web-tls") is None

    await eventually(secret_gone, "the TLS Secret gone from the host")
    updated = await rig.host_copy(INGRESSES, "web")
    assert updated is not None
    assert "tls" not in updated["spec"], "the removal reaches the host Ingress"

    await rig.virtual.delete(INGRESSES, "web", NS)

    async def ingress_gone() -> bool:
        return await rig.host_copy(INGRESSES, "web") is None

    await eventually(ingress_gone, "the host Ingress deleted")


async def test_the_load_balancer_status_comes_back_inside(rig: Rig) -> None:
    await rig.virtual.create(INGRESSES, ingress(tls_secret=None))
    copy = await eventually(lambda: rig.host_copy(INGRESSES, "web"), "the host Ingress")
    lb = {"ingress": [{"ip": "203.0.113.7", "ports": [{"port": 443, "protocol": "TCP"}]}]}
    # What an ingress controller on the host does.
    await rig.host.patch(
        INGRESSES,
        copy["metadata"]["name"],
        {"status": {"loadBalancer": lb}},
        HOST_NS,
        subresource="status",
    )

    async def inside() -> Obj | None:
        v = await rig.virtual.get(INGRESSES, "web", NS)
        return v if (v.get("status") or {}).get("loadBalancer") == lb else None

    await eventually(inside, "the load balancer inside")

    await rig.host.patch(
        INGRESSES,
        copy["metadata"]["name"],
        {"status": {"loadBalancer": {"ingress": None}}},
        HOST_NS,
        subresource="status",
    )

    async def cleared() -> bool:
        v = await rig.virtual.get(INGRESSES, "web", NS)
        return not ((v.get("status") or {}).get("loadBalancer") or {}).get("ingress")

    await eventually(cleared, "the address gone inside once the host drops it")
