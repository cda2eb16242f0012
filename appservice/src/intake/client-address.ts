/**
 * The address of the client behind a request, for the per-address rate limits: the TCP peer,
 * or, when the peer is one of our configured reverse proxies (the web client's same-origin API
 * forwarder), the address that proxy reports in `X-Forwarded-For`. Nobody else can set it.
 */
import { isIP } from "node:net";

/** Lower case, without an IPv6 zone, IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as plain IPv4. */
export function normaliseAddress(address: string): string {
  const plain = address.trim().toLowerCase().replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  return mapped?.[1] ?? plain;
}

/**
 * The client address of a request.
 *
 * @param peer - `req.socket.remoteAddress`
 * @param forwardedFor - the `X-Forwarded-For` header (its values joined with commas), if any
 * @param trustedProxies - normalised addresses of the proxies whose header we believe
 * @returns the peer when it is no trusted proxy or sent no usable header; else the right-most
 *   address of the header that is not itself a trusted proxy
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: ReadonlySet<string>,
): string | undefined {
  if (peer === undefined) return undefined;
  let address = normaliseAddress(peer);
  if (forwardedFor === undefined) return address;
  const hops = forwardedFor.split(",").map(normaliseAddress);
  while (trustedProxies.has(address)) {
    const next = hops.pop();
    if (next === undefined || isIP(next) === 0) break;
    address = next;
  }
  return address;
}
