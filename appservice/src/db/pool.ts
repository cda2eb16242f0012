/**
 * PostgreSQL access: one pool per process and two helpers. SQL lives with the feature that owns
 * it; always parameterised.
 */
import pg from "pg";

/** Creates the pool. */
export function createPool(databaseUrl: string, password: string | null): pg.Pool {
  // A password given beside a connection string would be overridden by the string's (absent)
  // password, so the URL is taken apart here.
  const url = new URL(databaseUrl);
  return new pg.Pool({
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    database: decodeURIComponent(url.pathname.slice(1)),
    password: password ?? decodeURIComponent(url.password),
    max: 10,
    connectionTimeoutMillis: 5_000,
  });
}

/**
 * Runs `fn` with a client checked out of the pool. A client whose connection fails while checked
 * out emits `error`, which the pool only listens for on idle clients: unheard, it would end the
 * process. It is heard here, its queries fail anyway, and it is destroyed instead of reused.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  const onError = (err: Error) => (failure = err);
  client.on("error", onError);
  try {
    return await fn(client);
  } finally {
    client.off("error", onError);
    client.release(failure);
  }
}

/** Runs `fn` in a transaction: committed when it returns, rolled back when it throws. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query("BEGIN");
    try {
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
  });
}
