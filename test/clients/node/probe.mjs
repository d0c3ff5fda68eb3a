// Client-matrix probe for node-redis (npm `redis`) and ioredis. See ../PROTOCOL.md.
//
//   node probe.mjs <node-redis|ioredis> <host:port> <topic> <group> <2|3>
//
// Only each library's typed command API is used (no sendCommand / call / custom
// commands). One JSON line on stdout and exit 0 on success; a message on stderr and a
// non-zero exit on any failed check (2: usage, 3: the library cannot speak RESP3).
import { readFileSync } from 'node:fs';

const CLIENTS = ['node-redis', 'ioredis'];
const POP_TIMEOUT_S = 5; // each consuming pop
const LAST_POP_TIMEOUT_S = 1; // the final pop that must find nothing
const CONSUME_DEADLINE_MS = 60_000; // the whole consume loop
const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 15_000; // any one reply; above the 5 s pops
const WATCHDOG_MS = 120_000; // the whole probe

const [clientName, addr, topic, group, protoArg, ...extra] = process.argv.slice(2);
const tag = `${clientName ?? '?'}-p${protoArg ?? '?'}`;

function die(code, msg) {
  process.stderr.write(`probe ${tag}: ${msg}\n`);
  process.exit(code);
}
const fail = (msg) => die(1, msg);

if (extra.length > 0 || !protoArg || !CLIENTS.includes(clientName) || !['2', '3'].includes(protoArg)) {
  die(2, `usage: node probe.mjs <${CLIENTS.join('|')}> <host:port> <topic> <group> <2|3>`);
}
const proto = Number(protoArg);
const sep = addr.lastIndexOf(':');
const host = addr.slice(0, sep).replace(/^\[(.*)\]$/, '$1');
const port = Number(addr.slice(sep + 1));
if (sep <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
  die(2, `bad address ${JSON.stringify(addr)}: want host:port`);
}

const watchdog = setTimeout(() => fail(`not done after ${WATCHDOG_MS} ms`), WATCHDOG_MS);

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no reply in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function libVersion(pkg) {
  const url = new URL(`./node_modules/${pkg}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

// ---- node-redis -----------------------------------------------------------------
async function nodeRedis() {
  const { createClient } = await import('redis');
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    version: libVersion('redis'),
    async connect(name) {
      const c = createClient({
        url: `redis://${urlHost}:${port}`,
        RESP: proto, // node-redis 6 defaults to RESP3: RESP 2 must be asked for
        ...(name ? { name } : {}), // RESP2: CLIENT SETNAME; RESP3: HELLO 3 SETNAME
        socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false },
        commandOptions: { timeout: COMMAND_TIMEOUT_MS },
      });
      c.on('error', (err) => fail(`node-redis connection${name ? ` ${name}` : ''} error: ${err?.message ?? err}`));
      await withTimeout(c.connect(), CONNECT_TIMEOUT_MS * 2, 'connect');
      return c;
    },
    rpushx: (c, key, value) => c.rPushX(key, value),
    pipeline(c, key, values) {
      const m = c.multi();
      for (const v of values) m.rPushX(key, v);
      return m.execAsPipeline(); // sent without MULTI/EXEC
    },
    tx(c, key, values) {
      const m = c.multi();
      for (const v of values) m.rPushX(key, v);
      return m.exec();
    },
    hgetall: (c, key) => c.hGetAll(key),
    async pop(c, kind, key, timeout) {
      const r = kind === 'blpop' ? await c.blPop(key, timeout) : await c.brPop(key, timeout);
      return r === null ? null : [r.key, r.element];
    },
    rpush: (c, key, value) => c.rPush(key, value),
    close: (c) => c.close(),
  };
}

// ---- ioredis --------------------------------------------------------------------
async function ioredis() {
  const { Redis } = await import('ioredis');
  // ioredis replies to pipeline()/multi() exec with [[err, reply], ...].
  const unwrap = (what, res) => {
    if (!Array.isArray(res)) throw new Error(`${what}: exec replied ${JSON.stringify(res)}`);
    return res.map(([err, reply], i) => {
      if (err) throw new Error(`${what}: command ${i} failed: ${err.message}`);
      return reply;
    });
  };
  return {
    version: libVersion('ioredis'),
    async connect(name) {
      const r = new Redis({
        host,
        port,
        protocol: proto, // ioredis 6: HELLO 3 on connect when 3 (its default)
        ...(proto === 3 ? { replyMapping: 'resp3' } : {}),
        ...(name ? { connectionName: name } : {}), // sends CLIENT SETNAME
        lazyConnect: true,
        connectTimeout: CONNECT_TIMEOUT_MS,
        commandTimeout: COMMAND_TIMEOUT_MS,
        retryStrategy: () => null, // no reconnect: a dropped connection fails the probe
        maxRetriesPerRequest: 0,
      });
      r.on('error', (err) => fail(`ioredis connection${name ? ` ${name}` : ''} error: ${err?.message ?? err}`));
      await withTimeout(r.connect(), CONNECT_TIMEOUT_MS * 2, 'connect');
      // ioredis silently downgrades to RESP2 when HELLO 3 is refused; RESP3 was asked for.
      if (proto === 3 && r.condition?.protocol !== 3) {
        throw new Error(`asked for RESP3, ioredis fell back to RESP${r.condition?.protocol}`);
      }
      return r;
    },
    rpushx: (r, key, value) => r.rpushx(key, value),
    async pipeline(r, key, values) {
      const p = r.pipeline();
      for (const v of values) p.rpushx(key, v);
      return unwrap('pipeline', await p.exec());
    },
    async tx(r, key, values) {
      const m = r.multi();
      for (const v of values) m.rpushx(key, v);
      return unwrap('multi', await m.exec());
    },
    hgetall: (r, key) => r.hgetall(key),
    pop: (r, kind, key, timeout) => (kind === 'blpop' ? r.blpop(key, timeout) : r.brpop(key, timeout)),
    rpush: (r, key, value) => r.rpush(key, value),
    close: (r) => r.quit(),
  };
}

// ---- the steps ------------------------------------------------------------------
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

async function run() {
  const lib = clientName === 'node-redis' ? await nodeRedis() : await ioredis();
  const p = `${clientName}-p${proto}`;
  const tkey = `topics:${topic}`;
  const call = (what, promise) =>
    withTimeout(promise, COMMAND_TIMEOUT_MS + 5_000, what).catch((err) => {
      throw new Error(`${what}: ${err?.message ?? err}`);
    });

  // 1. produce on an anonymous connection
  const prod = await call('connect producer', lib.connect(undefined));
  const single = await call('rpushx', lib.rpushx(prod, tkey, `${p}-single-0`));
  if (single !== 1) fail(`rpushx replied ${JSON.stringify(single)}, want 1`);

  // 2. pipeline (no transaction)
  const pipeline = await call('pipeline', lib.pipeline(prod, tkey, [0, 1, 2].map((i) => `${p}-pipe-${i}`)));
  if (!same(pipeline, [1, 1, 1])) fail(`pipeline replied ${JSON.stringify(pipeline)}, want [1,1,1]`);

  // 3. MULTI/EXEC
  const tx = await call('multi/exec', lib.tx(prod, tkey, [0, 1].map((i) => `${p}-tx-${i}`)));
  if (!same(tx, [1, 1])) fail(`exec replied ${JSON.stringify(tx)}, want [1,1]`);

  // 4. stats
  const stats = await call('hgetall stats', lib.hgetall(prod, 'stats'));
  if (stats === null || typeof stats !== 'object' || Array.isArray(stats)) {
    fail(`hgetall stats replied ${JSON.stringify(stats)}, want a map`);
  }
  if (!Object.hasOwn(stats, 'producer.messages')) {
    fail(`hgetall stats has no producer.messages: fields ${JSON.stringify(Object.keys(stats))}`);
  }
  const statsFields = Object.keys(stats).length;

  // 5. consume on a named connection with topic-key pops, acking each message
  const want = 6;
  const cons = await call('connect consumer', lib.connect(`${group}:${clientName}`));
  const popped = [];
  const keys = [];
  let acked = 0;
  let calls = 0;
  const deadline = Date.now() + CONSUME_DEADLINE_MS;
  while (popped.length < want) {
    if (Date.now() > deadline) {
      fail(`only ${popped.length} of ${want} messages after ${CONSUME_DEADLINE_MS} ms: ${JSON.stringify(popped)}`);
    }
    const kind = calls++ % 2 === 0 ? 'blpop' : 'brpop';
    const r = await call(kind, lib.pop(cons, kind, topic, POP_TIMEOUT_S));
    if (r === null) continue; // timed out: the group may still be joining
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'string') {
      fail(`${kind} replied ${JSON.stringify(r)}, want [key, value]`);
    }
    const [key, value] = r;
    if (!key.startsWith(`${topic}:`)) fail(`${kind} key ${JSON.stringify(key)} is not ${topic}:<partition>:<offset>`);
    popped.push(value);
    keys.push(key);
    const ack = await call('rpush acks', lib.rpush(cons, 'acks', key));
    if (ack !== 1) fail(`rpush acks ${key} replied ${JSON.stringify(ack)}, want 1`);
    acked++;
  }
  const last = await call('last blpop', lib.pop(cons, 'blpop', topic, LAST_POP_TIMEOUT_S));
  if (last !== null) fail(`last blpop replied ${JSON.stringify(last)}, want null`);

  const expected = [`${p}-single-0`, ...[0, 1, 2].map((i) => `${p}-pipe-${i}`), ...[0, 1].map((i) => `${p}-tx-${i}`)];
  const missing = expected.filter((v) => !popped.includes(v));
  if (missing.length > 0 || popped.length !== expected.length) {
    fail(`popped ${JSON.stringify(popped)}, want each of ${JSON.stringify(expected)} once`);
  }

  // 6. close both
  await call('close consumer', lib.close(cons));
  await call('close producer', lib.close(prod));

  return {
    client: clientName,
    version: lib.version,
    proto,
    popped,
    keys,
    acked,
    pipeline,
    tx,
    stats_fields: statsFields,
  };
}

try {
  const out = await run();
  clearTimeout(watchdog);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
} catch (err) {
  fail(err?.stack ?? String(err));
}
