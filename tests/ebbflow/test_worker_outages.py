"""`ebbflow work` waits out a store outage instead of exiting: a Lua script from another client holds its
Redis (BUSY) while the worker runs jobs, and the worker goes on once the script is killed, every job done
once. On a private redis-server (bench.private_redis)."""

from __future__ import annotations

import threading
import uuid

from bench.private_redis import redis_server
from ebbflow.config import RedisSettings, Settings
from ebbflow.local_worker import LocalWorker, WorkerCounts
from ebbflow.stores import open_scheduler
from tests.redis_conditions import BusyScript, wait_for

JOBS = 40


def test_the_worker_waits_out_a_busy_redis_and_finishes_every_job() -> None:
    with redis_server() as server:
        settings = Settings(store="redis", redis=RedisSettings(url=server.url, namespace=f"t-{uuid.uuid4().hex}"))
        scheduler = open_scheduler(settings)
        try:
            ids = {scheduler.submit("sleep", {"seconds": 0.05}, tenant="a").job_id for _ in range(JOBS)}
            started = threading.Event()
            worker = LocalWorker(scheduler, "w", max_jobs=JOBS, store_outage_s=60, on_record=lambda _: started.set())
            counts: list[WorkerCounts] = []
            thread = threading.Thread(target=lambda: counts.append(worker.run()), daemon=True)
            thread.start()
            # given a worker that has begun, when another client's script holds Redis until it is killed
            wait_for(started.is_set, "the worker's first job done")
            with BusyScript(server) as script:
                wait_for(lambda: worker.rider.outages["busy"] >= 1, "the worker met the BUSY store")
                script.kill()
            thread.join(timeout=60)
            # then it went on: every job done once, no worker error, the outage counted by reason
            assert not thread.is_alive() and counts, "the worker did not finish"
            (finished,) = counts
            assert finished.done == JOBS and finished.lost == 0, finished
            assert {record.job_id for record in finished.records} == ids
            assert finished.outages["busy"] >= 1
        finally:
            scheduler.store.purge()
            scheduler.store.close()
