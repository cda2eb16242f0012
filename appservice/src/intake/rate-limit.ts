/**
 * Rate limits without third parties: fixed-window counters in `rate_limit_counters`, shared by
 * every replica through the database. A request counts when it arrives, whether it then
 * succeeds or not.
 */
import { isIPv4, isIPv6 } from "node:net";
import type pg from "pg";
import { MatrixError } from "../http/errors.ts";

/** Anything that runs a query: the pool or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * Counts one request in `bucket` and throws M_LIMIT_EXCEEDED (with `retry_after_ms`, the time
 * until the window ends) when the bucket now holds more than `limit` requests in the current
 * window of `windowSeconds` (windows start at multiples of `windowSeconds` since the epoch).
 */
export async function hit(db: Queryable, bucket: string, limit: number, windowSeconds: number): Promise<void> {
  const { rows } = await db.query<{ hits: number; retry_after_ms: string }>(
    `INSERT INTO rate_limit_counters AS c (bucket, window_start, hits)
     VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2::int) * $2::int), 1)
     ON CONFLICT (bucket, window_start) DO UPDATE SET hits = c.hits + 1
     RETURNING c.hits,
       ceil(extract(epoch FROM c.window_start + make_interval(secs => $2::int) - now()) * 1000) AS retry_after_ms`,
    [bucket, windowSeconds],
  );
  const row = rows[0];
  if (row && row.hits > limit) {
    throw new MatrixError("M_LIMIT_EXCEEDED", "Too many requests; please try again later", {
      retry_after_ms: Math.max(1000, Number(row.retry_after_ms)),
    });
  }
}

/** Deletes counters of windows that ended more than `maxAgeSeconds` ago. */
export async function pruneRateLimits(db: Queryable, maxAgeSeconds: number): Promise<void> {
  await db.query("DELETE FROM rate_limit_counters WHERE window_start < now() - make_interval(secs => $1::int)", [
    maxAgeSeconds,
  ]);
}

/** Expands an IPv6 address (with `::` and an optional embedded IPv4 part) into 8 groups. */
function ipv6Groups(address: string): number[] {
  let text = address.replace(/%.*$/, "");
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The rate-limit key of a client address: an IPv4 address as is (also when written IPv4-mapped,
 * `::ffff:192.0.2.1`), an IPv6 address by its /64 network, which one household or phone gets
 * as a whole. The address is the TCP peer, or what a configured trusted proxy forwards
 * (see client-address.ts).
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return "unknown";
  if (isIPv4(remoteAddress)) return remoteAddress;
  if (!isIPv6(remoteAddress)) return "unknown";
  const groups = ipv6Groups(remoteAddress.toLowerCase());
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}
