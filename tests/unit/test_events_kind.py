"""Host events about synced objects, copied inside: once, updated when the host's count
moves, and not written again when a restarted syncer lists every host event anew."""

from subkube.kube.resource import EVENTS, SERVICES
from subkube.syncer import names
from subkube.syncer.resources.events.kind import Events
from tests.unit.rig import HOST_NS, NS, VC, Rig, eventually

HOST_NAME = names.host_name("web", NS, VC)


def host_event(count: int) -> dict:
    return {
        "metadata": {"name": f"{HOST_NAME}.1", "namespace": HOST_NS},
        "involvedObject": {"kind": "Service", "name": HOST_NAME, "namespace": HOST_NS},
        "reason": "Updated",
        "type": "Normal",
        "count": count,
        "message": f"{HOST_NS}/{HOST_NAME} seen {count} times",
    }


async def test_a_copied_event_is_written_once_and_again_only_when_it_moves() -> None:
    async with Rig() as rig:
        rig.ctx.to_host_kinds["Service"] = SERVICES
        await rig.host.create(
            SERVICES,
            {
                "metadata": {
                    "name": HOST_NAME,
                    "namespace": HOST_NS,
                    "labels": names.host_labels({}, vcluster=VC, namespace=NS),
                    "annotations": {
                        names.ANNOTATION_NAME: "web",
                        names.ANNOTATION_NAMESPACE: NS,
                        names.ANNOTATION_UID: "vuid",
                    },
                },
                "spec": {},
            },
            HOST_NS,
        )
        await rig.host.create(EVENTS, host_event(1), HOST_NS)
        await rig.start(Events)

        async def copied() -> list[dict]:
            return (await rig.virtual.list(EVENTS, NS))["items"]

        (inside,) = await eventually(copied, "the event inside")
        assert inside["message"] == f"{NS}/web seen 1 times"
        assert inside["metadata"]["labels"] == {names.LABEL_MANAGED_BY: VC}
        writes = sum(rig.virtual.calls.values())

        await rig.restart(Events)
        assert sum(rig.virtual.calls.values()) - writes <= 2, "a list and a watch, no write"

        event = await rig.host.get(EVENTS, f"{HOST_NAME}.1", HOST_NS)
        await rig.host.replace(EVENTS, {**event, **host_event(2), "metadata": event["metadata"]})

        async def counted_twice() -> bool:
            (now,) = await copied()
            return now["count"] == 2 and now["message"] == f"{NS}/web seen 2 times"

        await eventually(counted_twice, "the count moved inside")
