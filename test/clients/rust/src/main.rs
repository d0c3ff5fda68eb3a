//! The client-matrix probe for redis-rs (test/clients/PROTOCOL.md).
//!
//!     probe redis-rs <host:port> <topic> <group> <proto>
//!
//! Only redis-rs's typed API: the `Commands` trait (rpush_exists, hgetall, blpop/brpop,
//! rpush, client_setname), `redis::pipe()` for the plain pipeline and
//! `redis::pipe().atomic()` for MULTI/EXEC. RESP3 is the URL's `?protocol=resp3`
//! (redis-rs sends HELLO 3 on connect).
//!
//! redis-rs has no connection-name option (neither in the URL nor in
//! `RedisConnectionInfo`), so the consumer connection is named with the typed
//! `Commands::client_setname`, which sends `CLIENT SETNAME`, right after connecting.

use std::collections::HashMap;
use std::process::exit;
use std::time::Duration;

use redis::{Commands, Connection};

const VERSION: &str = env!("REDIS_RS_VERSION");
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longer than the 5 s pops, so a pop that times out server-side still gets its reply.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("redis-rs probe: {what}");
    exit(1);
}

fn connect(url: &str) -> Connection {
    let client = redis::Client::open(url).unwrap_or_else(|e| fail(format!("client for {url}: {e}")));
    let con = client
        .get_connection_with_timeout(CONNECT_TIMEOUT)
        .unwrap_or_else(|e| fail(format!("connect to {url}: {e}")));
    con.set_read_timeout(Some(IO_TIMEOUT))
        .unwrap_or_else(|e| fail(format!("set_read_timeout: {e}")));
    con.set_write_timeout(Some(IO_TIMEOUT))
        .unwrap_or_else(|e| fail(format!("set_write_timeout: {e}")));
    con
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_list<T, F: Fn(&T) -> String>(items: &[T], f: F) -> String {
    format!("[{}]", items.iter().map(f).collect::<Vec<_>>().join(", "))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 5 {
        fail("usage: probe redis-rs <host:port> <topic> <group> <proto>");
    }
    let (client, addr, topic, group) = (&args[0], &args[1], &args[2], &args[3]);
    let proto: u8 = match args[4].as_str() {
        "2" => 2,
        "3" => 3,
        other => fail(format!("proto must be 2 or 3, not {other}")),
    };
    let p = format!("{client}-p{proto}");
    let produce_key = format!("topics:{topic}");
    let url = format!("redis://{addr}/?protocol={}", if proto == 3 { "resp3" } else { "resp2" });

    // 1. Produce on an anonymous connection.
    let mut prod = connect(&url);
    let n: i64 = prod
        .rpush_exists(&produce_key, format!("{p}-single-0"))
        .unwrap_or_else(|e| fail(format!("rpush_exists: {e}")));
    if n != 1 {
        fail(format!("rpush_exists replied {n}, want 1"));
    }

    // 2. A plain pipeline (no MULTI).
    let mut pipe = redis::pipe();
    for i in 0..3 {
        pipe.rpush_exists(&produce_key, format!("{p}-pipe-{i}"));
    }
    let pipeline: Vec<i64> = pipe.query(&mut prod).unwrap_or_else(|e| fail(format!("pipeline: {e}")));
    if pipeline != [1, 1, 1] {
        fail(format!("pipeline replies {pipeline:?}"));
    }

    // 3. A transaction: atomic() wraps the commands in MULTI ... EXEC.
    let mut txp = redis::pipe();
    txp.atomic();
    for i in 0..2 {
        txp.rpush_exists(&produce_key, format!("{p}-tx-{i}"));
    }
    let tx: Vec<i64> = txp.query(&mut prod).unwrap_or_else(|e| fail(format!("transaction: {e}")));
    if tx != [1, 1] {
        fail(format!("transaction replies {tx:?}"));
    }

    // 4. Stats.
    let stats: HashMap<String, String> = prod.hgetall("stats").unwrap_or_else(|e| fail(format!("hgetall stats: {e}")));
    if !stats.contains_key("producer.messages") {
        let mut fields: Vec<&String> = stats.keys().collect();
        fields.sort();
        fields.truncate(5);
        fail(format!("hgetall stats has no producer.messages: {fields:?}"));
    }

    // 5. Consume on a named connection, with topic keys.
    let mut cons = connect(&url);
    let name = format!("{group}:{client}");
    let () = cons
        .client_setname(&name)
        .unwrap_or_else(|e| fail(format!("client_setname {name}: {e}")));
    let (mut popped, mut keys, mut acked) = (Vec::<String>::new(), Vec::<String>::new(), 0u32);
    for i in 0..60 {
        if popped.len() == 6 {
            break;
        }
        let r: Option<(String, String)> = if i % 2 == 0 {
            cons.blpop(topic, 5.0).unwrap_or_else(|e| fail(format!("blpop: {e}")))
        } else {
            cons.brpop(topic, 5.0).unwrap_or_else(|e| fail(format!("brpop: {e}")))
        };
        let Some((key, value)) = r else { continue };
        let n: i64 = cons
            .rpush("acks", &key)
            .unwrap_or_else(|e| fail(format!("rpush acks {key}: {e}")));
        if n != 1 {
            fail(format!("rpush acks {key} replied {n}, want 1"));
        }
        keys.push(key);
        popped.push(value);
        acked += 1;
    }
    if popped.len() != 6 {
        fail(format!("popped {popped:?}, want 6 messages"));
    }
    let seventh: Option<(String, String)> = cons.blpop(topic, 1.0).unwrap_or_else(|e| fail(format!("last blpop: {e}")));
    if let Some(m) = seventh {
        fail(format!("a seventh message: {m:?}"));
    }

    // 6. Close both connections (redis-rs closes the socket on drop).
    drop(cons);
    drop(prod);

    println!(
        "{{\"client\": {}, \"version\": {}, \"proto\": {proto}, \"popped\": {}, \"keys\": {}, \"acked\": {acked}, \
         \"pipeline\": {}, \"tx\": {}, \"stats_fields\": {}}}",
        json_str(client),
        json_str(VERSION),
        json_list(&popped, |s| json_str(s)),
        json_list(&keys, |s| json_str(s)),
        json_list(&pipeline, |n| n.to_string()),
        json_list(&tx, |n| n.to_string()),
        stats.len()
    );
}
