package rafka.probe;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TransactionResult;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.protocol.ProtocolVersion;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.Response;
import redis.clients.jedis.Transaction;

/**
 * Client-matrix probe for Jedis and Lettuce: drives rafka through each library's typed API
 * as test/clients/PROTOCOL.md describes.
 *
 * <p>Usage: {@code Probe <jedis|lettuce> <host:port> <topic> <group> <2|3>}
 */
public final class Probe {
  /** Timeout of a blocking pop that must find the messages, in seconds. */
  static final int POP_TIMEOUT_S = 5;
  /** Any single network wait (connect, a reply) is bounded by this. */
  static final int NET_TIMEOUT_MS = 10_000;
  /** Consume until this long has passed without the 6 messages, then fail. */
  static final long CONSUME_DEADLINE_MS = 45_000;
  /** The whole probe is killed (exit 1) past this, whatever it waits on. */
  static final long WATCHDOG_MS = 90_000;

  static final class Failure extends RuntimeException {
    Failure(String msg) {
      super(msg);
    }
  }

  static void check(boolean ok, String msg) {
    if (!ok) {
      throw new Failure(msg);
    }
  }

  /** What both clients report, printed as the JSON line. */
  static final class Result {
    String client;
    String version;
    int proto;
    List<String> popped = new ArrayList<>();
    List<String> keys = new ArrayList<>();
    int acked;
    List<Long> pipeline = new ArrayList<>();
    List<Long> tx = new ArrayList<>();
    int statsFields;
  }

  public static void main(String[] args) {
    if (args.length != 5) {
      System.err.println("usage: Probe <jedis|lettuce> <host:port> <topic> <group> <2|3>");
      System.exit(2);
    }
    String client = args[0];
    String addr = args[1];
    String topic = args[2];
    String group = args[3];
    int proto;
    try {
      proto = Integer.parseInt(args[4]);
    } catch (NumberFormatException e) {
      proto = -1;
    }
    if (proto != 2 && proto != 3) {
      System.err.println("proto must be 2 or 3, got " + args[4]);
      System.exit(2);
    }
    int colon = addr.lastIndexOf(':');
    if (colon <= 0) {
      System.err.println("address must be host:port, got " + addr);
      System.exit(2);
    }
    String host = addr.substring(0, colon);
    int port = Integer.parseInt(addr.substring(colon + 1));

    Thread watchdog =
        new Thread(
            () -> {
              try {
                Thread.sleep(WATCHDOG_MS);
              } catch (InterruptedException e) {
                return;
              }
              System.err.println("probe timed out after " + WATCHDOG_MS + " ms");
              System.err.flush();
              Runtime.getRuntime().halt(1);
            },
            "watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    Result r = new Result();
    r.client = client;
    r.proto = proto;
    try {
      switch (client) {
        case "jedis":
          r.version = artifactVersion("redis.clients", "jedis");
          runJedis(r, host, port, topic, group, proto);
          break;
        case "lettuce":
          r.version = artifactVersion("io.lettuce", "lettuce-core");
          runLettuce(r, host, port, topic, group, proto);
          break;
        default:
          System.err.println("unknown client " + client + " (want jedis or lettuce)");
          System.exit(2);
      }
    } catch (Failure f) {
      System.err.println(client + " p" + proto + ": " + f.getMessage());
      System.exit(1);
    } catch (Throwable t) {
      System.err.println(client + " p" + proto + ": " + t);
      t.printStackTrace(System.err);
      System.exit(1);
    }
    System.out.println(toJson(r));
    System.out.flush();
    System.exit(0);
  }

  /** The library's version from its jar's Maven metadata. */
  static String artifactVersion(String groupId, String artifactId) {
    String path = "/META-INF/maven/" + groupId + "/" + artifactId + "/pom.properties";
    try (InputStream in = Probe.class.getResourceAsStream(path)) {
      if (in != null) {
        Properties p = new Properties();
        p.load(in);
        String v = p.getProperty("version");
        if (v != null) {
          return v;
        }
      }
    } catch (Exception ignored) {
      // fall through
    }
    return "unknown";
  }

  static List<String> expectedValues(String p) {
    List<String> v = new ArrayList<>();
    v.add(p + "-single-0");
    for (int i = 0; i < 3; i++) {
      v.add(p + "-pipe-" + i);
    }
    for (int i = 0; i < 2; i++) {
      v.add(p + "-tx-" + i);
    }
    return v;
  }

  /** Checks one pop reply and records it; returns the ack key. */
  static String recordPop(Result r, String topic, Set<String> want, String call, String key, String value) {
    check(key != null, call + " returned a null key");
    check(value != null, call + " returned a null value for " + key);
    check(key.startsWith(topic + ":"), call + " key " + key + " is not <topic>:<partition>:<offset>");
    check(want.contains(value), call + " returned an unexpected value " + value);
    check(!r.popped.contains(value), call + " returned " + value + " twice");
    r.popped.add(value);
    r.keys.add(key);
    return key;
  }

  static void checkDone(Result r, int want) {
    check(r.popped.size() == want, "popped " + r.popped.size() + " of " + want + " messages: " + r.popped);
    check(r.acked == want, "acked " + r.acked + " of " + want);
  }

  // ---------------------------------------------------------------- Jedis

  static JedisClientConfig jedisConfig(int proto, String name) {
    DefaultJedisClientConfig.Builder b =
        DefaultJedisClientConfig.builder()
            .protocol(proto == 3 ? RedisProtocol.RESP3 : RedisProtocol.RESP2)
            .connectionTimeoutMillis(NET_TIMEOUT_MS)
            .socketTimeoutMillis(NET_TIMEOUT_MS)
            // Blocking pops wait at most POP_TIMEOUT_S on the server; bound the socket too.
            .blockingSocketTimeoutMillis(NET_TIMEOUT_MS);
    if (name != null) {
      b.clientName(name);
    }
    return b.build();
  }

  static void runJedis(Result r, String host, int port, String topic, String group, int proto) {
    String p = "jedis-p" + proto;
    String produceKey = "topics:" + topic;
    HostAndPort hp = new HostAndPort(host, port);

    try (Jedis prod = new Jedis(hp, jedisConfig(proto, null))) {
      // 1. Produce.
      long n = prod.rpushx(produceKey, p + "-single-0");
      check(n == 1, "rpushx replied " + n + ", want 1");

      // 2. Pipeline.
      List<Response<Long>> replies = new ArrayList<>();
      try (Pipeline pl = prod.pipelined()) {
        for (int i = 0; i < 3; i++) {
          replies.add(pl.rpushx(produceKey, p + "-pipe-" + i));
        }
        pl.sync();
      }
      for (Response<Long> resp : replies) {
        Long v = resp.get();
        r.pipeline.add(v);
        check(v != null && v == 1, "pipelined rpushx replied " + v + ", want 1");
      }

      // 3. Transaction.
      Transaction t = prod.multi();
      for (int i = 0; i < 2; i++) {
        t.rpushx(produceKey, p + "-tx-" + i);
      }
      List<Object> ex = t.exec();
      check(ex != null, "EXEC replied null (transaction discarded)");
      for (Object o : ex) {
        check(o instanceof Long, "EXEC reply element " + o + " is not an integer");
        r.tx.add((Long) o);
      }
      check(r.tx.size() == 2 && r.tx.get(0) == 1 && r.tx.get(1) == 1, "EXEC replied " + r.tx + ", want [1, 1]");

      // 4. Stats.
      Map<String, String> stats = prod.hgetAll("stats");
      check(stats != null && stats.containsKey("producer.messages"), "hgetAll stats lacks producer.messages: " + stats);
      r.statsFields = stats.size();
    }

    // 5. Consume.
    List<String> want = expectedValues(p);
    Set<String> wantSet = new HashSet<>(want);
    try (Jedis cons = new Jedis(hp, jedisConfig(proto, group + ":jedis"))) {
      long deadline = System.currentTimeMillis() + CONSUME_DEADLINE_MS;
      int call = 0;
      while (r.popped.size() < want.size()) {
        check(System.currentTimeMillis() < deadline,
            "only " + r.popped.size() + " of " + want.size() + " messages after " + CONSUME_DEADLINE_MS + " ms: " + r.popped);
        String key;
        if (call++ % 2 == 0) {
          redis.clients.jedis.util.KeyValue<String, String> kv = cons.blpop((double) POP_TIMEOUT_S, topic);
          if (kv == null) {
            continue;
          }
          key = recordPop(r, topic, wantSet, "blpop", kv.getKey(), kv.getValue());
        } else {
          List<String> kv = cons.brpop(POP_TIMEOUT_S, topic);
          if (kv == null) {
            continue;
          }
          check(kv.size() == 2, "brpop replied " + kv + ", want [key, value]");
          key = recordPop(r, topic, wantSet, "brpop", kv.get(0), kv.get(1));
        }
        long a = cons.rpush("acks", key);
        check(a == 1, "rpush acks " + key + " replied " + a + ", want 1");
        r.acked++;
      }
      redis.clients.jedis.util.KeyValue<String, String> last = cons.blpop(1.0, topic);
      check(last == null, "blpop after the last message returned " + last + ", want null");
    }
    checkDone(r, want.size());
  }

  // ---------------------------------------------------------------- Lettuce

  static RedisURI lettuceUri(String host, int port, String name) {
    RedisURI.Builder b = RedisURI.Builder.redis(host, port).withTimeout(Duration.ofMillis(NET_TIMEOUT_MS));
    if (name != null) {
      b.withClientName(name);
    }
    return b.build();
  }

  static void runLettuce(Result r, String host, int port, String topic, String group, int proto) throws Exception {
    String p = "lettuce-p" + proto;
    String produceKey = "topics:" + topic;
    RedisClient client = RedisClient.create();
    client.setOptions(
        ClientOptions.builder()
            .protocolVersion(proto == 3 ? ProtocolVersion.RESP3 : ProtocolVersion.RESP2)
            .autoReconnect(false)
            .build());
    try {
      try (StatefulRedisConnection<String, String> prodConn = client.connect(lettuceUri(host, port, null))) {
        RedisCommands<String, String> prod = prodConn.sync();

        // 1. Produce.
        Long n = prod.rpushx(produceKey, p + "-single-0");
        check(n != null && n == 1, "rpushx replied " + n + ", want 1");

        // 2. Pipeline: the async API with manual flushing.
        RedisAsyncCommands<String, String> async = prodConn.async();
        List<RedisFuture<Long>> futures = new ArrayList<>();
        prodConn.setAutoFlushCommands(false);
        try {
          for (int i = 0; i < 3; i++) {
            futures.add(async.rpushx(produceKey, p + "-pipe-" + i));
          }
          prodConn.flushCommands();
          boolean done =
              LettuceFutures.awaitAll(Duration.ofMillis(NET_TIMEOUT_MS), futures.toArray(new RedisFuture[0]));
          check(done, "pipelined rpushx did not complete in " + NET_TIMEOUT_MS + " ms");
        } finally {
          prodConn.setAutoFlushCommands(true);
        }
        for (RedisFuture<Long> f : futures) {
          Long v = f.get(NET_TIMEOUT_MS, TimeUnit.MILLISECONDS);
          r.pipeline.add(v);
          check(v != null && v == 1, "pipelined rpushx replied " + v + ", want 1");
        }

        // 3. Transaction.
        String ok = prod.multi();
        check("OK".equals(ok), "MULTI replied " + ok);
        for (int i = 0; i < 2; i++) {
          prod.rpushx(produceKey, p + "-tx-" + i); // null inside MULTI; the reply comes with EXEC
        }
        TransactionResult ex = prod.exec();
        check(ex != null && !ex.wasDiscarded(), "EXEC: transaction discarded");
        for (Object o : ex) {
          check(o instanceof Long, "EXEC reply element " + o + " is not an integer");
          r.tx.add((Long) o);
        }
        check(r.tx.size() == 2 && r.tx.get(0) == 1 && r.tx.get(1) == 1, "EXEC replied " + r.tx + ", want [1, 1]");

        // 4. Stats.
        Map<String, String> stats = prod.hgetall("stats");
        check(stats != null && stats.containsKey("producer.messages"), "hgetall stats lacks producer.messages: " + stats);
        r.statsFields = stats.size();
      }

      // 5. Consume.
      List<String> want = expectedValues(p);
      Set<String> wantSet = new HashSet<>(want);
      try (StatefulRedisConnection<String, String> consConn =
          client.connect(lettuceUri(host, port, group + ":lettuce"))) {
        RedisCommands<String, String> cons = consConn.sync();
        long deadline = System.currentTimeMillis() + CONSUME_DEADLINE_MS;
        int call = 0;
        while (r.popped.size() < want.size()) {
          check(System.currentTimeMillis() < deadline,
              "only " + r.popped.size() + " of " + want.size() + " messages after " + CONSUME_DEADLINE_MS + " ms: " + r.popped);
          boolean left = call++ % 2 == 0;
          KeyValue<String, String> kv = left ? cons.blpop(POP_TIMEOUT_S, topic) : cons.brpop((double) POP_TIMEOUT_S, topic);
          if (kv == null) {
            continue;
          }
          String call1 = left ? "blpop" : "brpop";
          check(kv.hasValue(), call1 + " returned no value for " + kv.getKey());
          String key = recordPop(r, topic, wantSet, call1, kv.getKey(), kv.getValue());
          Long a = cons.rpush("acks", key);
          check(a != null && a == 1, "rpush acks " + key + " replied " + a + ", want 1");
          r.acked++;
        }
        KeyValue<String, String> last = cons.blpop(1.0, topic);
        check(last == null, "blpop after the last message returned " + last + ", want null");
      }
      checkDone(r, want.size());
    } finally {
      client.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  // ---------------------------------------------------------------- JSON

  static String toJson(Result r) {
    StringBuilder b = new StringBuilder();
    b.append("{\"client\": ").append(q(r.client));
    b.append(", \"version\": ").append(q(r.version));
    b.append(", \"proto\": ").append(r.proto);
    b.append(", \"popped\": ").append(strings(r.popped));
    b.append(", \"keys\": ").append(strings(r.keys));
    b.append(", \"acked\": ").append(r.acked);
    b.append(", \"pipeline\": ").append(r.pipeline.toString().replace(" ", ""));
    b.append(", \"tx\": ").append(r.tx.toString().replace(" ", ""));
    b.append(", \"stats_fields\": ").append(r.statsFields);
    b.append('}');
    return b.toString();
  }

  static String strings(List<String> xs) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < xs.size(); i++) {
      if (i > 0) {
        b.append(", ");
      }
      b.append(q(xs.get(i)));
    }
    return b.append(']').toString();
  }

  static String q(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          b.append("\\\"");
          break;
        case '\\':
          b.append("\\\\");
          break;
        case '\n':
          b.append("\\n");
          break;
        case '\r':
          b.append("\\r");
          break;
        case '\t':
          b.append("\\t");
          break;
        default:
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
      }
    }
    return b.append('"').toString();
  }
}
