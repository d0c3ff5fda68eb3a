#!/usr/bin/env python3
"""The client-matrix probe for redis-py (test/clients/PROTOCOL.md).

    python probe.py redis-py <host:port> <topic> <group> <proto>

Only redis-py's typed API: rpushx, pipeline(transaction=False) and the default
pipeline() (a MULTI/EXEC transaction), hgetall, blpop/brpop, rpush.
"""

import json
import sys

import redis


def fail(what):
    print(f"redis-py probe: {what}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 6:
        fail("usage: probe.py redis-py <host:port> <topic> <group> <proto>")
    client, addr, topic, group, proto = sys.argv[1:]
    host, port = addr.rsplit(":", 1)
    proto = int(proto)
    p = f"{client}-p{proto}"
    common = dict(host=host, port=int(port), protocol=proto, socket_timeout=15, socket_connect_timeout=5,
                  decode_responses=True)

    prod = redis.Redis(**common)
    if prod.rpushx(f"topics:{topic}", f"{p}-single-0") != 1:
        fail("rpushx did not reply 1")
    pipe = prod.pipeline(transaction=False)
    for i in range(3):
        pipe.rpushx(f"topics:{topic}", f"{p}-pipe-{i}")
    pipeline = pipe.execute()
    if pipeline != [1, 1, 1]:
        fail(f"pipeline replies {pipeline}")
    tx = prod.pipeline()  # transaction=True by default: MULTI ... EXEC
    for i in range(2):
        tx.rpushx(f"topics:{topic}", f"{p}-tx-{i}")
    txr = tx.execute()
    if txr != [1, 1]:
        fail(f"transaction replies {txr}")
    stats = prod.hgetall("stats")
    if "producer.messages" not in stats:
        fail(f"hgetall stats has no producer.messages: {sorted(stats)[:5]}")

    cons = redis.Redis(client_name=f"{group}:{client}", **common)
    popped, keys, acked = [], [], 0
    for i in range(60):
        if len(popped) == 6:
            break
        r = (cons.blpop if i % 2 == 0 else cons.brpop)([topic], timeout=5)
        if r is None:
            continue
        key, value = r
        keys.append(key)
        popped.append(value)
        if cons.rpush("acks", key) != 1:
            fail(f"rpush acks {key} did not reply 1")
        acked += 1
    if len(popped) != 6:
        fail(f"popped {popped}, want 6 messages")
    if cons.blpop([topic], timeout=1) is not None:
        fail("a seventh message")
    cons.close()
    prod.close()
    print(json.dumps({"client": client, "version": redis.__version__, "proto": proto, "popped": popped,
                      "keys": keys, "acked": acked, "pipeline": pipeline, "tx": txr, "stats_fields": len(stats)}))


if __name__ == "__main__":
    main()
