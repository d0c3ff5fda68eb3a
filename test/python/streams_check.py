#!/usr/bin/env python3
"""Redis Streams over rafka through redis-py's typed stream API.

Run by test/e2e/streams_clients_test.go against a server it started:

    python streams_check.py --port N --stream S --protocol 2|3

The stream must exist with one partition. Every reply is checked field by
field; the script exits non-zero with a message on the first failed check.
"""

import argparse
import sys
import uuid

import redis


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stream", required=True)
    ap.add_argument("--protocol", type=int, choices=(2, 3), required=True)
    a = ap.parse_args()
    r = redis.Redis(port=a.port, protocol=a.protocol, decode_responses=True, socket_timeout=30)
    s, g = a.stream, "pyg-" + uuid.uuid4().hex[:8]

    check(r.xgroup_create(s, g, id="$", mkstream=True) is True, "xgroup_create")
    try:
        r.xgroup_create(s, g, id="$")
        raise CheckFailed("a second xgroup_create succeeded")
    except redis.ResponseError as e:
        check(str(e) == "BUSYGROUP Consumer Group name already exists", f"BUSYGROUP: {e}")
    ids = [r.xadd(s, {"payload": f"v{i}", "n": str(i)}) for i in range(3)]
    check(all(isinstance(i, str) and "-" in i for i in ids), f"xadd ids {ids}")
    check(r.xlen(s) == 3, "xlen")
    rng = r.xrange(s, "-", "+")
    check([e[0] for e in rng] == ids and rng[0][1] == {"payload": "v0", "n": "0"}, f"xrange {rng}")
    rev = r.xrevrange(s, "+", "-", count=1)
    check(rev == [(ids[2], {"payload": "v2", "n": "2"})], f"xrevrange {rev}")
    rd = r.xread({s: "0"}, count=2)
    if a.protocol == 3:
        check(list(rd.keys()) == [s] and [e[0] for e in rd[s][0]] == ids[:2], f"xread (RESP3) {rd}")
    else:
        check(rd[0][0] == s and [e[0] for e in rd[0][1]] == ids[:2], f"xread {rd}")

    # The entries may come in more than one reply, as Kafka's fetches bring them.
    entries = []
    for _ in range(20):
        if len(entries) >= 3:
            break
        got = r.xreadgroup(g, "c1", {s: ">"}, count=10, block=5000)
        if got:
            entries += got[s][0] if a.protocol == 3 else got[0][1]
    check([e[0] for e in entries] == ids, f"xreadgroup {entries}")
    check(r.xreadgroup(g, "c1", {s: ">"}, block=100) in (None, [], {}), "xreadgroup of nothing")
    p = r.xpending(s, g)
    check(p["pending"] == 3 and p["min"] == ids[0] and p["max"] == ids[2] and
          p["consumers"] == [{"name": "c1", "pending": 3}], f"xpending {p}")
    ext = r.xpending_range(s, g, "-", "+", 10)
    check(len(ext) == 3 and ext[0]["message_id"] == ids[0] and ext[0]["consumer"] == "c1" and
          ext[0]["times_delivered"] == 1, f"xpending_range {ext}")
    cl = r.xclaim(s, g, "c2", 0, [ids[0]])
    check(cl == [(ids[0], {"payload": "v0", "n": "0"})], f"xclaim {cl}")
    justid = r.xclaim(s, g, "c2", 0, [ids[1]], justid=True)
    check(justid == [ids[1]], f"xclaim justid {justid}")
    auto = r.xautoclaim(s, g, "c2", 0, "0-0", count=10)
    check(auto[0] == "0-0" and [e[0] for e in auto[1]] == ids, f"xautoclaim {auto}")
    groups = r.xinfo_groups(s)
    check(len(groups) == 1 and groups[0]["name"] == g and groups[0]["pending"] == 3 and
          groups[0]["last-delivered-id"] == ids[2], f"xinfo_groups {groups}")
    consumers = r.xinfo_consumers(s, g)
    check(sorted(c["name"] for c in consumers) == ["c1", "c2"], f"xinfo_consumers {consumers}")
    info = r.xinfo_stream(s)
    check(info["length"] == 3 and info["last-generated-id"] == ids[2] and
          info["first-entry"][0] == ids[0] and info["last-entry"][0] == ids[2], f"xinfo_stream {info}")
    check(r.xack(s, g, *ids) == 3, "xack")
    check(r.xack(s, g, ids[0]) == 0, "xack again")
    check(r.xgroup_destroy(s, g) == 1, "xgroup_destroy")
    print(f"ok streams: redis-py {redis.__version__} RESP{a.protocol}")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        print(f"streams_check: {e}", file=sys.stderr)
        sys.exit(1)
