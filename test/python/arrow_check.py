#!/usr/bin/env python3
"""End-to-end check of rafka's columnar access with foreign clients:
pyarrow.flight, pyarrow.ipc, DuckDB and redis-py.

Run by test/e2e/clients_arrow_test.go against servers it started:

    python arrow_check.py flight --flight grpc+tcp://HOST:PORT --topic T \
        --put-topic P --expected FILE
    python arrow_check.py blpop --resp-port N --protocol 2|3 --topic T \
        --group G --expected FILE
    python arrow_check.py auth --flight grpc+tcp://HOST:PORT --topic T \
        --user U --password P --rows N

flight: FILE is a JSON list of the messages of T (partition, offset, key and
value as hex or null, timestamp in ms, headers as [key, hex value or null]).
The script finds T with ListFlights, reads it into one Table through
GetFlightInfo and every endpoint's DoGet, checks every value, runs SQL over
the Table with DuckDB, reads a CMD descriptor (partitions, start offset,
column projection, small batches), checks error mapping and topic-info, and
writes the Table to the empty one-partition topic P with DoPut and reads it
back.

blpop: FILE maps each partition ("0", "1", ...) to the list of its values in
offset order (UTF-8 strings). The script names itself <group>:w, pops with
ARROW.BLPOP until every message arrived, decodes each reply with
pyarrow.ipc.open_stream, checks values and offsets (no gap, no repeat), acks
the highest offset per partition with RPUSH acks, checks the stats and QUITs
(closing the consumer commits the acks).

auth: against a Flight service that requires authentication, a call
without credentials and a handshake with a wrong password fail with
FlightUnauthenticatedError; authenticate_basic_token(U, P) gives a bearer
header with which GetFlightInfo and DoGet of T read N rows.

It exits non-zero with a message on the first failed check.
"""

import argparse
import json
import sys
import time

import duckdb
import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.ipc
import redis

COLUMNS = ["key", "value", "topic", "partition", "offset", "timestamp", "timestampType", "headers"]

SCHEMA_TYPES = {
    "key": pa.binary(),
    "value": pa.binary(),
    "topic": pa.dictionary(pa.int16(), pa.utf8()),
    "partition": pa.int32(),
    "offset": pa.int64(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "timestampType": pa.int8(),
    "headers": pa.list_(pa.struct([pa.field("key", pa.utf8(), nullable=False),
                                   pa.field("value", pa.binary())])),
}


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def check_schema(schema, columns, what):
    names = schema.names
    check(names == columns, f"{what}: columns {names}, want {columns}")
    for f in schema:
        want = SCHEMA_TYPES[f.name]
        # The header struct's key is declared non-nullable; compare the
        # shape, not the nullability flags.
        check(f.type.equals(want, check_metadata=False) or str(f.type) == str(want),
              f"{what}: column {f.name} is {f.type}, want {want}")
    check(b"rafka.version" in (schema.metadata or {}), f"{what}: no rafka.version in schema metadata {schema.metadata}")


def unhex(s):
    return None if s is None else bytes.fromhex(s)


def expected_rows(path):
    with open(path) as f:
        rows = json.load(f)
    out = []
    for r in rows:
        out.append({
            "partition": r["partition"],
            "offset": r["offset"],
            "key": unhex(r["key"]),
            "value": unhex(r["value"]),
            "timestamp": r["timestamp"],
            "headers": [(k, unhex(v)) for k, v in r["headers"]],
        })
    return sorted(out, key=lambda r: (r["partition"], r["offset"]))


def table_rows(tbl):
    """The Table's rows as dicts (timestamps in ms, headers as tuples), sorted
    by partition and offset."""
    d = tbl.to_pydict()
    n = tbl.num_rows
    if "timestamp" in d:
        d["timestamp"] = tbl.column("timestamp").cast(pa.int64()).to_pylist()
    if "headers" in d:
        d["headers"] = [[(h["key"], h["value"]) for h in hs] for hs in d["headers"]]
    rows = [{c: d[c][i] for c in d} for i in range(n)]
    return sorted(rows, key=lambda r: (r.get("partition", 0), r.get("offset", 0)))


def read_endpoint(client, endpoint, what):
    """DoGet of one endpoint: the Table, and (rows, app_metadata) per batch."""
    reader = client.do_get(endpoint.ticket)
    batches, metas = [], []
    while True:
        try:
            chunk = reader.read_chunk()
        except StopIteration:
            break
        if chunk.data is None:
            continue
        batches.append(chunk.data)
        meta = chunk.app_metadata
        metas.append((chunk.data.num_rows, None if meta is None else json.loads(meta.to_pybytes())))
    return pa.Table.from_batches(batches, schema=reader.schema), metas


def check_batch_metadata(tbl_batches_meta, partition, what):
    """Every non-empty batch carries {"partition", "first_offset",
    "last_offset"} that match its rows, and batches follow each other."""
    prev_last = None
    for rows, meta in tbl_batches_meta:
        if rows == 0:
            continue
        check(meta is not None, f"{what}: a batch of {rows} rows without app_metadata")
        check(meta.get("partition") == partition, f"{what}: app_metadata {meta}, want partition {partition}")
        check(meta["last_offset"] - meta["first_offset"] == rows - 1,
              f"{what}: app_metadata {meta} for {rows} rows")
        if prev_last is not None:
            check(meta["first_offset"] == prev_last + 1, f"{what}: batch {meta} does not follow offset {prev_last}")
        prev_last = meta["last_offset"]


def read_info(client, info, what):
    tables = []
    for ep in info.endpoints:
        ticket = json.loads(ep.ticket.ticket)
        check(ticket.get("v") == 1, f"{what}: ticket {ticket} has no v=1")
        check(list(ep.locations) == [], f"{what}: endpoint locations {ep.locations}, want none (no --flight-advertise)")
        tbl, metas = read_endpoint(client, ep, what)
        check_batch_metadata(metas, ticket["partition"], f"{what}, partition {ticket['partition']}")
        tables.append(tbl)
    return pa.concat_tables(tables)


def expect_flight_error(fn, exc, text, what):
    try:
        got = fn()
    except exc as e:
        check(text in str(e), f"{what}: {type(e).__name__} {str(e)!r}, want it to contain {text!r}")
        return
    except Exception as e:  # noqa: BLE001 - report the wrong type
        raise CheckFailed(f"{what}: {type(e).__name__} {e!r}, want {exc.__name__}")
    raise CheckFailed(f"{what}: got {got!r}, want {exc.__name__}")


def run_flight(args):
    want = expected_rows(args.expected)
    parts = sorted({r["partition"] for r in want})
    client = flight.FlightClient(args.flight)

    # ListFlights: the topic is there, as GetFlightInfo of PATH [topic].
    listed = {}
    for info in client.list_flights():
        path = info.descriptor.path
        check(path is not None and len(path) == 1, f"ListFlights descriptor {info.descriptor}")
        listed[path[0].decode()] = info
    check(args.topic in listed, f"ListFlights does not list {args.topic}: {sorted(listed)}")
    check(listed[args.topic].total_records == len(want),
          f"ListFlights total_records {listed[args.topic].total_records}, want {len(want)}")
    globbed = [i.descriptor.path[0].decode() for i in client.list_flights(args.topic.encode())]
    check(globbed == [args.topic], f"ListFlights with criteria {args.topic!r}: {globbed}")

    # GetFlightInfo of PATH [topic]: one endpoint per partition; read every
    # endpoint into one Table.
    info = client.get_flight_info(flight.FlightDescriptor.for_path(args.topic))
    check(len(info.endpoints) == len(parts), f"{len(info.endpoints)} endpoints, want one per partition ({len(parts)})")
    check(info.total_records == len(want), f"total_records {info.total_records}, want {len(want)}")
    check(info.total_bytes == -1, f"total_bytes {info.total_bytes}, want -1")
    check_schema(info.schema, COLUMNS, "FlightInfo schema")
    tbl = read_info(client, info, "PATH read")
    check_schema(tbl.schema, COLUMNS, "PATH read")
    check(tbl.num_rows == len(want), f"PATH read: {tbl.num_rows} rows, want {len(want)}")
    got = table_rows(tbl)
    for g, w in zip(got, want):
        check(g["topic"] == args.topic, f"row {w['partition']}/{w['offset']}: topic {g['topic']!r}")
        check(g["timestampType"] == 0, f"row {w['partition']}/{w['offset']}: timestampType {g['timestampType']}, want 0")
        for col in ("partition", "offset", "key", "value", "timestamp", "headers"):
            check(g[col] == w[col], f"row {w['partition']}/{w['offset']}: {col} {g[col]!r}, want {w[col]!r}")
    schema = client.get_schema(flight.FlightDescriptor.for_path(args.topic)).schema
    check(schema.names == COLUMNS, f"GetSchema: {schema.names}")

    # DuckDB over the Table.
    con = duckdb.connect()
    con.register("tbl", tbl)
    # offset is an SQL keyword: quote it.
    res = con.sql('select partition, count(*), min("offset"), max("offset") from tbl '
                  'group by partition order by partition').fetchall()
    want_res = [(p, sum(1 for r in want if r["partition"] == p), 0, sum(1 for r in want if r["partition"] == p) - 1)
                for p in parts]
    check(res == want_res, f"DuckDB per-partition counts {res}, want {want_res}")
    res = con.sql("select count(*) filter (where value is null), count(*) filter (where key is null), "
                  "count(distinct topic) from tbl").fetchall()[0]
    want_res = (sum(1 for r in want if r["value"] is None), sum(1 for r in want if r["key"] is None), 1)
    check(res == want_res, f"DuckDB null values, null keys, topics: {res}, want {want_res}")
    res = con.sql("select h.key, count(*) from (select unnest(headers) as h from tbl) "
                  "group by h.key order by h.key").fetchall()
    counts = {}
    for r in want:
        for k, _ in r["headers"]:
            counts[k] = counts.get(k, 0) + 1
    check(res == sorted(counts.items()), f"DuckDB header keys {res}, want {sorted(counts.items())}")
    res = con.sql("select epoch_ms(min(timestamp)), epoch_ms(max(timestamp)) from tbl").fetchall()[0]
    want_res = (min(r["timestamp"] for r in want), max(r["timestamp"] for r in want))
    check(res == want_res, f"DuckDB timestamp range {res}, want {want_res}")

    # CMD descriptor: one partition, from an offset, two columns (in schema
    # order whatever the order asked), small batches.
    last = parts[-1]
    in_last = [r for r in want if r["partition"] == last]
    cmd = {"topic": args.topic, "partitions": [last], "start": 2, "columns": ["offset", "value"], "max_batch_rows": 4}
    info = client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(cmd)))
    check(len(info.endpoints) == 1, f"CMD {cmd}: {len(info.endpoints)} endpoints, want 1")
    check(info.total_records == len(in_last) - 2, f"CMD {cmd}: total_records {info.total_records}, want {len(in_last) - 2}")
    ep = info.endpoints[0]
    ticket = json.loads(ep.ticket.ticket)
    check(ticket["partition"] == last and ticket["start"] == 2 and ticket["end"] == len(in_last),
          f"CMD {cmd}: ticket {ticket}")
    part, metas = read_endpoint(client, ep, "CMD read")
    check_schema(part.schema, ["value", "offset"], f"CMD {cmd}")
    check([m[0] for m in metas if m[0]] == [4, 4, 4, 1], f"CMD {cmd}: batch sizes {[m[0] for m in metas]}, want 4,4,4,1")
    check_batch_metadata(metas, last, f"CMD {cmd}")
    check(part.column("offset").to_pylist() == list(range(2, len(in_last))), f"CMD {cmd}: offsets {part.column('offset')}")
    check(part.column("value").to_pylist() == [r["value"] for r in in_last[2:]], f"CMD {cmd}: values")

    # CMD with {"last": 2}: the two newest rows of every partition.
    cmd = {"topic": args.topic, "start": {"last": 2}, "columns": ["partition", "offset"]}
    info = client.get_flight_info(flight.FlightDescriptor.for_command(json.dumps(cmd)))
    lastn = read_info(client, info, f"CMD {cmd}")
    got = sorted(zip(lastn.column("partition").to_pylist(), lastn.column("offset").to_pylist()))
    want_last = sorted((r["partition"], r["offset"]) for p in parts for r in [x for x in want if x["partition"] == p][-2:])
    check(got == want_last, f"CMD {cmd}: rows {got}, want {want_last}")

    # Errors reach pyarrow as its exception types, with the server's text.
    expect_flight_error(lambda: client.get_flight_info(flight.FlightDescriptor.for_command(
        json.dumps({"topic": args.topic, "colums": ["value"]}))), pa.ArrowInvalid, "unknown field",
        "CMD with an unknown field")
    expect_flight_error(lambda: client.get_flight_info(flight.FlightDescriptor.for_command(
        json.dumps({"topic": args.topic, "columns": ["nope"]}))), pa.ArrowInvalid, 'unknown column "nope"',
        "CMD with an unknown column")
    expect_flight_error(lambda: client.get_flight_info(flight.FlightDescriptor.for_path(args.topic + "-missing")),
                        pa.ArrowKeyError, "does not exist", "PATH of a missing topic")
    expect_flight_error(lambda: client.do_get(flight.Ticket(b'{"v": 2}')).read_all(), pa.ArrowInvalid,
                        "ticket version 2 is not supported", "DoGet of a ticket of another version")

    # DoAction topic-info: the watermarks.
    results = list(client.do_action(flight.Action("topic-info", args.topic.encode())))
    check(len(results) == 1, f"topic-info: {len(results)} results")
    ti = json.loads(results[0].body.to_pybytes())
    got = [(p["partition"], p["low"], p["high"]) for p in ti["partitions"]]
    want_ti = [(p, 0, sum(1 for r in want if r["partition"] == p)) for p in parts]
    check(ti["topic"] == args.topic and got == want_ti, f"topic-info {ti}, want {want_ti}")

    # DoPut: the Table read above goes to another topic (partition 0; offset,
    # topic and timestampType are ignored) and reads back equal.
    put = tbl.sort_by([("partition", "ascending"), ("offset", "ascending")])
    put = put.set_column(put.schema.get_field_index("partition"), "partition",
                         pa.array([0] * put.num_rows, pa.int32()))
    writer, meta_reader = client.do_put(flight.FlightDescriptor.for_path(args.put_topic), put.schema)
    writer.write_table(put, max_chunksize=10)
    writer.done_writing()
    meta = meta_reader.read()
    writer.close()
    check(meta is not None and json.loads(meta.to_pybytes()) == {"produced": put.num_rows},
          f"DoPut result {meta and meta.to_pybytes()}, want {{\"produced\": {put.num_rows}}}")
    back = read_info(client, client.get_flight_info(flight.FlightDescriptor.for_path(args.put_topic)), "DoPut read back")
    check(back.num_rows == put.num_rows, f"DoPut read back {back.num_rows} rows, want {put.num_rows}")
    for col in ("key", "value", "timestamp", "headers"):
        check(back.column(col).to_pylist() == put.column(col).to_pylist(), f"DoPut read back: column {col} differs")
    check(back.column("offset").to_pylist() == list(range(put.num_rows)), "DoPut read back: offsets")
    client.close()
    return f"{tbl.num_rows} rows over {len(parts)} endpoints"


def run_blpop(args):
    with open(args.expected) as f:
        want = {int(p): [v.encode() for v in vs] for p, vs in json.load(f).items()}
    total = sum(len(vs) for vs in want.values())
    key = "topics:" + args.topic
    r = redis.Redis(host="127.0.0.1", port=args.resp_port, protocol=args.protocol, single_connection_client=True)
    check(r.client_setname(f"{args.group}:w") is True, "CLIENT SETNAME")

    try:
        r.execute_command("ARROW.BLPOP", key, 1, "COUNT", 0)
        raise CheckFailed("ARROW.BLPOP COUNT 0: no error")
    except redis.ResponseError as e:
        check("COUNT must be an integer from 1 to 1000000" in str(e), f"ARROW.BLPOP COUNT 0: {e}")

    # Vary projection and compression between calls: pyarrow decodes them all.
    variants = [
        [],
        ["COLUMNS", "value,offset,partition", "COMPRESSION", "lz4"],
        ["COMPRESSION", "zstd"],
    ]
    got = {p: [] for p in want}
    calls = replies = 0
    deadline = time.monotonic() + 60
    while sum(len(v) for v in got.values()) < total:
        check(time.monotonic() < deadline, f"got {sum(len(v) for v in got.values())} of {total} messages")
        opts = variants[replies % len(variants)]
        calls += 1
        reply = r.execute_command("ARROW.BLPOP", key, 1, "COUNT", 100, "LINGER", 100, *opts)
        if reply is None:  # the group may still be forming
            continue
        replies += 1
        check(isinstance(reply, bytes), f"ARROW.BLPOP reply is {type(reply).__name__}, want bytes")
        reader = pyarrow.ipc.open_stream(reply)
        batches = list(reader)
        check(len(batches) == 1, f"ARROW.BLPOP reply holds {len(batches)} batches, want 1")
        tbl = pa.Table.from_batches(batches, schema=reader.schema)
        columns = COLUMNS if not opts or opts[0] != "COLUMNS" else ["value", "partition", "offset"]
        check_schema(tbl.schema, columns, f"ARROW.BLPOP {opts}")
        check(1 <= tbl.num_rows <= 100, f"ARROW.BLPOP COUNT 100 returned {tbl.num_rows} rows")
        if "topic" in columns:
            check(set(tbl.column("topic").to_pylist()) == {args.topic}, "ARROW.BLPOP topic column")
        high = {}
        for p, o, v in zip(tbl.column("partition").to_pylist(), tbl.column("offset").to_pylist(),
                           tbl.column("value").to_pylist()):
            check(o == len(got[p]), f"partition {p}: offset {o} after {len(got[p])} messages (a gap or a repeat)")
            check(v == want[p][o], f"partition {p} offset {o}: value {v!r}, want {want[p][o]!r}")
            got[p].append(v)
            high[p] = o
        acks = [f"{args.topic}:{p}:{o}" for p, o in sorted(high.items())]
        n = r.rpush("acks", *acks)
        check(n == len(acks), f"RPUSH acks {acks}: {n}, want {len(acks)}")
    check(replies >= 3, f"{total} messages in {replies} replies with COUNT 100, want at least 3")

    # Drained: a null reply after the timeout.
    calls += 1
    start = time.monotonic()
    reply = r.execute_command("ARROW.BLPOP", key, 0.5)
    check(reply is None, f"ARROW.BLPOP on a drained topic: {reply!r:.80}, want None")
    check(time.monotonic() - start >= 0.4, "ARROW.BLPOP 0.5 returned early")

    stats = {k.decode(): v.decode() for k, v in r.hgetall("stats").items()}
    for field, value in {"arrow.blpop.calls": str(calls), "arrow.blpop.rows": str(total),
                         "consumer.messages": str(total)}.items():
        check(stats.get(field) == value, f"stats {field} = {stats.get(field)!r}, want {value!r}")
    check(r.execute_command("QUIT") in (True, b"OK", "OK"), "QUIT")
    r.close()
    return f"{total} rows in {replies} replies ({calls} calls)"


def run_auth(args):
    client = flight.FlightClient(args.flight)
    desc = flight.FlightDescriptor.for_path(args.topic)
    expect_flight_error(lambda: client.get_flight_info(desc), flight.FlightUnauthenticatedError, "",
                        "GetFlightInfo without credentials")
    expect_flight_error(lambda: client.authenticate_basic_token(args.user, args.password + "-wrong"),
                        flight.FlightUnauthenticatedError, "", "handshake with a wrong password")
    header = client.authenticate_basic_token(args.user, args.password)
    options = flight.FlightCallOptions(headers=[header])
    info = client.get_flight_info(desc, options)
    rows = 0
    for ep in info.endpoints:
        rows += client.do_get(ep.ticket, options).read_all().num_rows
    check(rows == args.rows, f"read {rows} rows as {args.user}, want {args.rows}")
    return f"{args.user} authenticated with Basic credentials and read {rows} rows"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("flight")
    f.add_argument("--flight", required=True, help="grpc+tcp://host:port")
    f.add_argument("--topic", required=True)
    f.add_argument("--put-topic", required=True)
    f.add_argument("--expected", required=True)
    b = sub.add_parser("blpop")
    b.add_argument("--resp-port", type=int, required=True)
    b.add_argument("--protocol", type=int, choices=[2, 3], default=2)
    b.add_argument("--topic", required=True)
    b.add_argument("--group", required=True)
    b.add_argument("--expected", required=True)
    a = sub.add_parser("auth")
    a.add_argument("--flight", required=True, help="grpc+tcp://host:port")
    a.add_argument("--topic", required=True)
    a.add_argument("--user", required=True)
    a.add_argument("--password", required=True)
    a.add_argument("--rows", type=int, required=True)
    args = p.parse_args()
    versions = f"pyarrow {pa.__version__}, duckdb {duckdb.__version__}, redis-py {redis.__version__}"
    try:
        summary = {"flight": run_flight, "blpop": run_blpop, "auth": run_auth}[args.mode](args)
    except CheckFailed as e:
        print(f"FAIL {args.mode} ({versions}): {e}", file=sys.stderr)
        return 1
    print(f"ok {args.mode}: {summary} ({versions})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
