"""Progress push: a state change wakes the watchers of that job, in process and across Redis."""

from __future__ import annotations

import asyncio

import pytest

from acie.jobs import RedisJobQueue, SQLiteJobQueue


def test_in_process_notifier_wakes_only_the_jobs_watchers(sqlite_engine):
    q = SQLiteJobQueue(sqlite_engine, lease_s=5.0)
    a, b = q.submit("a", {}), q.submit("b", {})

    async def main() -> tuple[bool, bool]:
        with q.notifier.subscribe(a.id) as wa, q.notifier.subscribe(b.id) as wb:
            wa.clear()
            wb.clear()
            leased = await asyncio.to_thread(q.lease, "w", timeout=1)
            assert leased.id == a.id  # the oldest job moves; only its watcher wakes
            return await wa.wait(5), await wb.wait(0.2)

    assert asyncio.run(main()) == (True, False)
    assert q.notifier.watching() == 0


@pytest.mark.redis
def test_redis_notifier_carries_changes_from_another_process(redis_url, sqlite_engine, unique_name):
    watcher_side = RedisJobQueue(sqlite_engine, redis_url, stream=unique_name)
    worker_side = RedisJobQueue(sqlite_engine, redis_url, stream=unique_name)  # another "process"
    try:
        job = worker_side.submit("x", {})

        async def main() -> bool:
            with watcher_side.notifier.subscribe(job.id) as w:
                # wait until the listener's SUBSCRIBE is in place (PUBSUB NUMSUB counts it)
                for _ in range(100):
                    subs = dict(watcher_side.client.pubsub_numsub(watcher_side.notifier.channel))
                    if subs.get(watcher_side.notifier.channel):
                        break
                    await asyncio.sleep(0.05)
                w.clear()
                await asyncio.to_thread(worker_side.lease, "w", timeout=1)
                return await w.wait(5)

        assert asyncio.run(main()) is True
    finally:
        worker_side.drop_streams()
        watcher_side.close()
        worker_side.close()
