import asyncio

import pytest

from subkube.kube.workqueue import ShutDown, WorkQueue, process


async def test_keys_are_deduplicated() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        q.add(key)
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"


async def test_a_key_is_never_processed_twice_at_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    key = await q.get()
    q.add("a")  # changed again while a worker holds it
    assert len(q) == 0, "must wait for done()"
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"


async def test_concurrent_workers_never_share_a_key() -> None:
    q: WorkQueue[int] = WorkQueue()
    active: set[int] = set()
    seen: list[int] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            assert key not in active
            active.add(key)
            await asyncio.sleep(0.001)
            seen.append(key)
            active.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(8)]
    for i in range(200):
        q.add(i % 10)
        if i % 7 == 0:
            await asyncio.sleep(0)
    assert await q.wait_idle()
    q.shutdown()
    await asyncio.gather(*workers)
    assert set(seen) == set(range(10))


async def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.05)
    assert q.add_rate_limited("a") == pytest.approx(0.01)
    assert q.add_rate_limited("a") == pytest.approx(0.02)
    assert q.add_rate_limited("a") == pytest.approx(0.04)
    assert q.add_rate_limited("a") == pytest.approx(0.05)
    assert q.failures("a") == 4
    q.forget("a")
    assert q.failures("a") == 0
    assert await asyncio.wait_for(q.get(), 1) == "a"


async def test_shutdown_releases_waiting_workers() -> None:
    q: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    with pytest.raises(ShutDown):
        await waiter
    q.add("ignored")
    assert len(q) == 0


async def test_flows_take_turns_so_a_flood_delays_a_few_by_one_turn() -> None:
    q: WorkQueue[tuple[str, str]] = WorkQueue(flow=lambda key: key[0])
    for i in range(1000):
        q.add(("flood", f"p{i}"))
    q.add(("few", "a"))
    q.add(("few", "b"))
    assert len(q) == 1002
    taken = [await q.get() for _ in range(4)]
    assert taken == [("flood", "p0"), ("few", "a"), ("flood", "p1"), ("few", "b")]
    # Within a flow, first in first out; a drained flow leaves the rotation.
    assert [await q.get() for _ in range(3)] == [("flood", f"p{i}") for i in (2, 3, 4)]
    assert len(q) == 995


async def test_a_key_requeued_while_processing_joins_its_flow_again() -> None:
    q: WorkQueue[tuple[str, str]] = WorkQueue(flow=lambda key: key[0])
    q.add(("a", "1"))
    key = await q.get()
    q.add(key)
    q.add(("b", "1"))
    q.done(key)
    assert [await q.get(), await q.get()] == [("b", "1"), ("a", "1")]
    assert len(q) == 0


async def test_a_worker_on_a_full_queue_of_quick_keys_lets_the_loop_run_between_them() -> None:
    q: WorkQueue[int] = WorkQueue()
    for key in range(1000):
        q.add(key)
    handled: list[int] = []

    async def quick(key: int) -> None:
        handled.append(key)

    worker = asyncio.create_task(process(q, quick, lambda key, exc: None))
    try:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        # Another task ran while the worker had 998 keys left to take without waiting.
        assert 0 < len(handled) < 10
    finally:
        q.shutdown()
        await worker
