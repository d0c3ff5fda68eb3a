#!/usr/bin/env python3
"""redis-py's Lock (sync and asyncio) on rafka's lock keys.

Run by test/e2e/locks_test.go against a server it started:

    python locks_check.py --port N --protocol 2|3

Each check exercises the real Lock class: acquire (SET NX PX), locked/owned
(GET), release, extend and reacquire (its Lua scripts, by EVALSHA after
SCRIPT EXISTS or SCRIPT LOAD). The script exits non-zero with a message on
the first failed check.
"""

import argparse
import asyncio
import sys
import time
import uuid

import redis
import redis.asyncio
from redis.exceptions import LockNotOwnedError


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def sync_checks(r, name):
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"],
                        protocol=r.connection_pool.connection_kwargs["protocol"])
    lock = r.lock(name, timeout=2, blocking=False)
    check(lock.acquire(), "acquire a free lock")
    check(lock.locked() and lock.owned(), "locked and owned after acquire")
    check(not other.lock(name, blocking=False).acquire(), "a second lock of the same name")
    check(0 < r.pttl(name) <= 2000, "the lock's PX")
    check(lock.extend(10), "extend (adds)")
    check(10000 < r.pttl(name) <= 12000, f"PTTL after extend: {r.pttl(name)}")
    check(lock.extend(3, replace_ttl=True), "extend (replace)")
    check(2000 < r.pttl(name) <= 3000, f"PTTL after extend replace: {r.pttl(name)}")
    check(lock.reacquire(), "reacquire")
    check(1000 < r.pttl(name) <= 2000, f"PTTL after reacquire: {r.pttl(name)}")
    lock.release()
    check(not lock.locked(), "not locked after release")
    # A lock released by expiry, then taken by another, is not ours to release.
    short = r.lock(name, timeout=0.2, blocking=False)
    check(short.acquire(), "acquire a short lock")
    time.sleep(0.4)
    taker = other.lock(name, timeout=5, blocking=False)
    check(taker.acquire(), "acquire after expiry")
    try:
        short.release()
        raise CheckFailed("released a lock another holds")
    except LockNotOwnedError:
        pass
    check(taker.owned(), "the taker still owns it")
    taker.release()
    # A blocking acquire waits for the holder's release.
    holder = other.lock(name, timeout=5)
    check(holder.acquire(), "holder acquire")
    waiter = r.lock(name, timeout=5, blocking_timeout=0.3, sleep=0.05)
    check(not waiter.acquire(), "a blocking acquire that times out")
    holder.release()
    check(waiter.acquire(), "acquire after the holder's release")
    waiter.release()
    # with-statement form.
    with r.lock(name, timeout=5):
        check(r.get(name) is not None, "locked inside with")
    check(r.get(name) is None, "released after with")
    other.close()


async def async_checks(port, protocol, name):
    r = redis.asyncio.Redis(port=port, protocol=protocol)
    try:
        lock = r.lock(name, timeout=2, blocking=False)
        check(await lock.acquire(), "async acquire")
        check(await lock.owned(), "async owned")
        check(await lock.extend(5), "async extend")
        check(await lock.reacquire(), "async reacquire")
        await lock.release()
        check(not await lock.locked(), "async not locked after release")
        # The pipeline form taskiq-redis uses: the lock's commands inside one MULTI.
        pipe = r.pipeline()
        plock = pipe.lock(name + ":pipe", timeout=5)
        await plock.acquire()
        await pipe.get(name + ":pipe")
        await plock.release()
        results = await pipe.execute()
        check(results[0] is True and results[1] is not None and results[2] == 1,
              f"lock around a command in a MULTI: {results}")
        check(await r.get(name + ":pipe") is None, "released by the MULTI")
    finally:
        await r.aclose()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--protocol", type=int, choices=(2, 3), required=True)
    a = ap.parse_args()
    name = "pylock-" + uuid.uuid4().hex[:8]
    r = redis.Redis(port=a.port, protocol=a.protocol)
    try:
        sync_checks(r, name)
        asyncio.run(async_checks(a.port, a.protocol, name + ":async"))
    except CheckFailed as e:
        sys.exit(f"CHECK FAILED (protocol {a.protocol}): {e}")
    print(f"redis-py {redis.__version__} Lock on rafka: all checks passed (protocol {a.protocol})")


if __name__ == "__main__":
    main()
