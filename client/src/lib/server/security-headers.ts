/**
 * Adds sources to the `connect-src` directive of a Content-Security-Policy header value.
 *
 * Sources already listed are not repeated, and `'none'` is dropped once there is a source.
 * Without a `connect-src` directive, one is appended that starts from the `default-src`
 * sources, which `connect-src` would otherwise inherit.
 *
 * @param csp - a header value such as `default-src 'none'; connect-src 'self'`
 * @param sources - CSP sources to allow, e.g. `['https://matrix.example.org']`
 * @returns the changed header value (directives joined with `; `)
 * @throws Error if a source contains whitespace, `;` or `,`, which would break the header
 */
export function withConnectSources(csp: string, sources: readonly string[]): string {
  for (const source of sources) {
    if (source === "" || /[\s;,]/.test(source)) {
      throw new Error(`Invalid CSP source: ${JSON.stringify(source)}`);
    }
  }
  if (sources.length === 0) return csp;

  const directives = csp
    .split(";")
    .map((directive) => directive.trim().split(/\s+/))
    .filter((tokens) => tokens[0] !== "");
  const named = (name: string) => directives.find((tokens) => tokens[0]?.toLowerCase() === name);

  let connect = named("connect-src");
  if (connect === undefined) {
    connect = ["connect-src", ...(named("default-src")?.slice(1) ?? [])];
    directives.push(connect);
  }
  for (const source of sources) {
    if (!connect.includes(source)) connect.push(source);
  }
  const none = connect.indexOf("'none'");
  if (none > 0 && connect.length > 2) connect.splice(none, 1);

  return directives.map((tokens) => tokens.join(" ")).join("; ");
}
