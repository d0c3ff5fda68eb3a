"""A taskiq application on taskiq-redis's stream broker, pointed at rafka.

Run by test/e2e's TestTaskiqRedisStream, unmodified taskiq and taskiq-redis:
  python -m taskiq worker taskiq_app:broker --workers 1   (a worker)
  python taskiq_app.py kick FIRST COUNT [slow]           (send record tasks FIRST.., then a slow one)

Settings come from the environment: TASKIQ_URL (redis://host:port), TASKIQ_STREAM
(the topic), TASKIQ_GROUP, TASKIQ_OUT (a file each task appends a line to) and
TASKIQ_SLOW_SECONDS (how long the slow task sleeps on this worker) and
TASKIQ_WORKER (this worker's name in those lines).
"""

import asyncio
import os
import sys

from taskiq_redis import RedisStreamBroker

broker = RedisStreamBroker(
    url=os.environ["TASKIQ_URL"],
    queue_name=os.environ["TASKIQ_STREAM"],
    consumer_group_name=os.environ["TASKIQ_GROUP"],
    consumer_id="0",
    xread_block=500,
    # An entry pending this long on a worker is claimed by another.
    idle_timeout=2000,
    unacknowledged_lock_timeout=5,
)


def record(line: str) -> None:
    with open(os.environ["TASKIQ_OUT"], "a") as out:
        out.write(f"{line} on={os.environ.get('TASKIQ_WORKER', '-')}\n")
        out.flush()


@broker.task(task_name="record")
async def record_task(n: int) -> None:
    record(f"record {n}")


@broker.task(task_name="slow")
async def slow_task(n: int) -> None:
    record(f"slow-start {n}")
    await asyncio.sleep(float(os.environ.get("TASKIQ_SLOW_SECONDS", "0")))
    record(f"slow-done {n}")


async def kick(first: int, count: int, slow: bool) -> None:
    await broker.startup()
    for i in range(first, first + count):
        await record_task.kiq(i)
    if slow:
        await slow_task.kiq(0)
    await broker.shutdown()


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or sys.argv[1] != "kick" or sys.argv[4:] not in ([], ["slow"]):
        sys.exit("usage: taskiq_app.py kick FIRST COUNT [slow]")
    asyncio.run(kick(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] == ["slow"]))
