#!/usr/bin/env python3
"""End-to-end check of rafka with redis-py, the Python Redis client.

Run by test/e2e/clients_python_test.go against a server it started:

    python client_check.py --port N --topic T --protocol 2|3 [--group G]

The topic must exist (two or more partitions are fine). The script produces
with RPUSHX, consumes in a consumer group (CLIENT SETNAME + a BLPOP loop),
acks, reads HGETALL stats and checks every value; it reconnects with the same
client name after QUIT. It exits non-zero with a message on the first failed
check.
"""

import argparse
import sys
import time
import uuid

import redis

CLASSIC_STATS = [
    "producer.unflushed.messages",
    "producer.delivery.errors",
    "producer.unknown.events",
]


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def expect_error(fn, text, what):
    """fn() must raise a redis ResponseError whose message is text."""
    try:
        got = fn()
    except redis.ResponseError as e:
        check(str(e) == text, f"{what}: error {str(e)!r}, want {text!r}")
        return
    raise CheckFailed(f"{what}: got {got!r}, want error {text!r}")


def wait_for(cond, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout}s waiting for: {what}")
        time.sleep(0.05)


class Consumer:
    """A named connection that consumes from one topic and counts BLPOPs."""

    def __init__(self, args, name):
        self.key = "topics:" + args.topic
        self.topic = args.topic
        # One connection: the consumer lives on it, so every command must
        # use it.
        self.r = redis.Redis(
            host="127.0.0.1",
            port=args.port,
            protocol=args.protocol,
            decode_responses=True,
            single_connection_client=True,
        )
        check(self.r.client_setname(name) is True, f"CLIENT SETNAME {name}")
        got = self.r.client_getname()
        check(got == name, f"CLIENT GETNAME: {got!r}, want {name!r}")
        self.calls = 0
        self.timeouts = 0

    def pop(self, n, deadline=30.0):
        """BLPOP with 1 s timeouts until n messages arrived."""
        out = []
        end = time.monotonic() + deadline
        while len(out) < n:
            check(time.monotonic() < end, f"got {len(out)} of {n} messages from {self.key}: {out}")
            self.calls += 1
            reply = self.r.blpop([self.key], timeout=1)
            if reply is None:
                self.timeouts += 1
                continue
            out.append(parse_message(reply, self.topic))
        return out


def parse_message(reply, topic):
    """Checks BLPOP's eight-element reply; returns (topic, partition, offset, value)."""
    reply = list(reply)
    check(len(reply) == 8, f"BLPOP reply has {len(reply)} elements, want 8: {reply!r}")
    check(
        [reply[0], reply[2], reply[4], reply[6]] == ["topic", "partition", "offset", "value"],
        f"BLPOP reply field names: {reply!r}",
    )
    check(reply[1] == topic, f"BLPOP topic {reply[1]!r}, want {topic!r}")
    check(
        isinstance(reply[3], int) and isinstance(reply[5], int),
        f"BLPOP partition and offset must be integers: {reply!r}",
    )
    check(reply[3] >= 0 and reply[5] >= 0, f"BLPOP partition/offset negative: {reply!r}")
    return (reply[1], reply[3], reply[5], reply[7])


def ack_of(m):
    return f"{m[0]}:{m[1]}:{m[2]}"


def run(args):
    group = args.group or f"py-{uuid.uuid4().hex[:12]}"
    name = f"{group}:pymember"
    key = "topics:" + args.topic

    prod = redis.Redis(host="127.0.0.1", port=args.port, protocol=args.protocol, decode_responses=True)
    check(prod.ping() is True, "PING")

    # Produce: the classic one-message form, then a keyed batch.
    n = prod.rpushx(key, "v1")
    check(n == 1, f"RPUSHX {key} v1: {n!r}, want 1")
    n = prod.rpushx(key + ":key-a", "a1", "a2")
    check(n == 2, f"RPUSHX {key}:key-a a1 a2: {n!r}, want 2")
    expect_error(
        lambda: prod.rpushx("nottopics", "x"),
        "PROD First argument must be in the form of 'topics:<topic>' or 'topics:<topic>:<key>'",
        "RPUSHX to a non-topic key",
    )
    n = prod.execute_command("DUMP", 10000)
    check(n == 0, f"DUMP 10000: {n!r}, want 0 undelivered")

    # Consume in the group.
    cons = Consumer(args, name)
    conn_id = cons.r.client_id()
    # The name is taken while that connection lives.
    other = redis.Redis(host="127.0.0.1", port=args.port, protocol=args.protocol,
                        decode_responses=True, single_connection_client=True)
    expect_error(lambda: other.client_setname(name), f"CONS id {name} is already taken",
                 "CLIENT SETNAME of a live name on another connection")
    other.close()

    msgs = cons.pop(3)
    values = sorted(m[3] for m in msgs)
    check(values == ["a1", "a2", "v1"], f"consumed values {values}, want ['a1', 'a2', 'v1']")
    by_value = {m[3]: m for m in msgs}
    a1, a2 = by_value["a1"], by_value["a2"]
    check(a1[1] == a2[1] and a2[2] == a1[2] + 1,
          f"same-key messages {a1} and {a2}: want the same partition, consecutive offsets")

    # Ack: the reply is the number of acks accepted.
    acks = [ack_of(m) for m in msgs]
    n = cons.r.rpush("acks", *acks)
    check(n == 3, f"RPUSH acks {acks}: {n!r}, want 3")
    expect_error(lambda: cons.r.rpush("acks", "nope"), "CONS Cannot parse ack: 'nope'", "RPUSH acks nope")

    # Drained: BLPOP blocks for its timeout and returns None.
    start = time.monotonic()
    cons.calls += 1
    reply = cons.r.blpop([key], timeout=1)
    took = time.monotonic() - start
    check(reply is None, f"BLPOP on a drained topic: {reply!r}, want None")
    cons.timeouts += 1
    check(0.9 <= took <= 5, f"BLPOP {key} 1 returned after {took:.2f}s, want about 1s")
    check(cons.r.client_id() == conn_id, "the consumer connection changed")

    # Stats reflect exactly what happened.
    stats = prod.hgetall("stats")
    check(isinstance(stats, dict), f"HGETALL stats: {stats!r}")
    check(list(stats)[:3] == CLASSIC_STATS, f"HGETALL stats starts with {list(stats)[:3]}, want {CLASSIC_STATS}")
    want = {
        "producer.messages": "3",
        "producers.created": "1",
        "consumer.messages": "3",
        "consumers.created": "1",
        "consumer.acks": "3",
        "consumer.ack.errors": "1",
        "blpop.calls": str(cons.calls),
        "blpop.timeouts": str(cons.timeouts),
    }
    for field, value in want.items():
        check(stats.get(field) == value, f"stats {field} = {stats.get(field)!r}, want {value!r} (all: {stats})")
    wait_for(lambda: prod.hgetall("stats").get("producer.delivered") == "3", "producer.delivered = 3")

    # QUIT releases the name before its +OK: a new connection takes it at once.
    check(cons.r.execute_command("QUIT") in (True, "OK"), "QUIT")
    cons.r.close()
    cons = Consumer(args, name)
    check(cons.r.client_id() != conn_id, "after QUIT the consumer should be on a new connection")

    # The acks were committed when the first consumer closed: the new
    # consumer in the group gets only what is produced now.
    check(prod.rpushx(key, "v2") == 1, f"RPUSHX {key} v2")
    m = cons.pop(1)[0]
    check(m[3] == "v2", f"after reconnect got {m}, want only the new message v2 (acked messages redelivered?)")
    n = cons.r.rpush("acks", ack_of(m))
    check(n == 1, f"RPUSH acks {ack_of(m)}: {n!r}, want 1")
    cons.r.close()

    stats = prod.hgetall("stats")
    for field, value in {"producer.messages": "4", "consumer.messages": "4",
                         "consumer.acks": "4", "consumers.created": "2"}.items():
        check(stats.get(field) == value, f"final stats {field} = {stats.get(field)!r}, want {value!r} (all: {stats})")

    # DEL stats resets the counters.
    n = prod.delete("stats")
    check(n == 1, f"DEL stats: {n!r}, want 1")
    got = prod.hgetall("stats").get("consumer.acks")
    check(got == "0", f"consumer.acks after DEL stats = {got!r}, want '0'")
    prod.close()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--protocol", type=int, choices=[2, 3], required=True)
    p.add_argument("--group", default="")
    args = p.parse_args()
    try:
        run(args)
    except CheckFailed as e:
        print(f"FAIL (redis-py {redis.__version__}, RESP{args.protocol}): {e}", file=sys.stderr)
        return 1
    print(f"ok (redis-py {redis.__version__}, RESP{args.protocol})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
