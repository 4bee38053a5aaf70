"""The Celery side of bench/pipeline.bench.ts: N trivial tasks through Celery with a Redis broker and result backend.

Run as a worker:  python3 -m celery -A pipeline_celery worker -c 2 -P prefork ...
Run as a driver:  python3 pipeline_celery.py N   (prints one JSON line with the figures)
Empty its Redis database:  python3 pipeline_celery.py flush

Every task counts its runs in Redis (INCR), so lost or duplicated runs show in the driver's check, and returns the
time it finished, which is when its result is written to the backend (latency = finished - sent).
"""
import json
import os
import sys
import time

import redis
from celery import Celery

BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11")
app = Celery("pipeline_celery", broker=BROKER, backend=BROKER)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=4,
    broker_connection_retry_on_startup=True,
)
RUNS_KEY = "lucy-bench:runs"


@app.task(name="bench.noop")
def noop(command):
    redis.Redis.from_url(BROKER).incr(RUNS_KEY)
    return {"alumnoId": command.get("alumnoId"), "done": time.time()}


def main(n):
    r = redis.Redis.from_url(BROKER)
    deadline = time.time() + 60
    while not app.control.ping(timeout=1.0):
        if time.time() > deadline:
            raise SystemExit("celery worker did not answer a ping in 60 s")
    r.delete(RUNS_KEY)
    sent = []
    results = []
    t0 = time.time()
    for i in range(n):
        sent.append(time.time())
        results.append(noop.apply_async(({"alumnoId": f"alu-{i}", "tipo": "CREDENCIALES"},)))
    publish_seconds = time.time() - t0
    # The stored results are read straight from the backend (MGET, in chunks): Celery 5.2's pub/sub join trips
    # over results of a GroupResult without an id.
    keys = [app.backend.get_key_for_task(res.id) for res in results]
    metas = [None] * n
    deadline = time.time() + 1800
    while any(m is None for m in metas):
        if time.time() > deadline:
            raise SystemExit("Celery results missing after 30 min")
        time.sleep(0.05)
        for start in range(0, n, 1000):
            if all(m is not None for m in metas[start : start + 1000]):
                continue
            for j, raw in enumerate(r.mget(keys[start : start + 1000])):
                if raw is not None and metas[start + j] is None:
                    metas[start + j] = json.loads(raw)
    done = [m["result"]["done"] for m in metas]
    states = {}
    for m in metas:
        states[m["status"]] = states.get(m["status"], 0) + 1
    latencies = sorted((d - s) * 1000 for d, s in zip(done, sent))
    end = max(done)
    print(
        json.dumps(
            {
                "tasks": n,
                "seconds": end - t0,
                "publishSeconds": publish_seconds,
                "latenciesMs": latencies,
                "runs": int(r.get(RUNS_KEY) or 0),
                "states": states,
                "distinctIds": len({res.id for res in results}),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1] == "flush":
        # The benchmark owns its Redis database (11 unless CELERY_BROKER_URL says otherwise); emptied before and after.
        redis.Redis.from_url(BROKER).flushdb()
    else:
        main(int(sys.argv[1]))
