/**
 * The address of the client behind a request, for the per-address rate limits: the TCP peer,
 * or, when the peer is one of our configured reverse proxies (the web client's same-origin API
 * forwarder), the address that proxy reports in `X-Forwarded-For`. Nobody else can set it.
 *
 * Proxies are single addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`): in Kubernetes the web
 * client's pods change address, their network's range does not.
 */
import { BlockList, isIP } from "node:net";

/** Lower case, without an IPv6 zone, IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as plain IPv4. */
export function normaliseAddress(address: string): string {
  const plain = address.trim().toLowerCase().replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  return mapped?.[1] ?? plain;
}

/** An address range: a network address and how many leading bits of it count. */
export interface AddressRange {
  network: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/**
 * `10.0.0.0/8`, `fd00::/8` or a single address (a range of one) as an {@link AddressRange};
 * null when it is neither. A prefix of 0 (everyone) is refused: trusting every peer's
 * `X-Forwarded-For` would let anyone name their own address.
 */
export function parseAddressRange(entry: string): AddressRange | null {
  const [address = "", prefix, ...rest] = entry.trim().split("/");
  if (rest.length) return null;
  const network = normaliseAddress(address);
  if (address.includes("%")) return null;
  const version = isIP(network);
  if (version === 0) return null;
  const bits = version === 4 ? 32 : 128;
  if (prefix === undefined) return { network, prefix: bits, family: version === 4 ? "ipv4" : "ipv6" };
  if (!/^[0-9]{1,3}$/.test(prefix) || Number(prefix) < 1 || Number(prefix) > bits) return null;
  return { network, prefix: Number(prefix), family: version === 4 ? "ipv4" : "ipv6" };
}

/** Whether an address is one of our trusted proxies. */
export type ProxyCheck = (address: string) => boolean;

/**
 * A {@link ProxyCheck} for the configured proxies (CONNECTA_TRUSTED_PROXIES, already validated).
 *
 * @throws Error for an entry {@link parseAddressRange} refuses
 */
export function trustedProxies(entries: readonly string[]): ProxyCheck {
  const list = new BlockList();
  for (const entry of entries) {
    const range = parseAddressRange(entry);
    if (!range) throw new Error(`not an IP address or range: ${JSON.stringify(entry)}`);
    list.addSubnet(range.network, range.prefix, range.family);
  }
  return (address) => {
    const plain = normaliseAddress(address);
    const version = isIP(plain);
    return version !== 0 && list.check(plain, version === 4 ? "ipv4" : "ipv6");
  };
}

/**
 * The client address of a request.
 *
 * @param peer - `req.socket.remoteAddress`
 * @param forwardedFor - the `X-Forwarded-For` header (its values joined with commas), if any
 * @param isTrustedProxy - whether an address is a proxy whose header we believe ({@link trustedProxies})
 * @returns the peer when it is no trusted proxy or sent no usable header; else the right-most
 *   address of the header that is not itself a trusted proxy
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  isTrustedProxy: ProxyCheck,
): string | undefined {
  if (peer === undefined) return undefined;
  let address = normaliseAddress(peer);
  if (forwardedFor === undefined) return address;
  const hops = forwardedFor.split(",").map(normaliseAddress);
  while (isTrustedProxy(address)) {
    const next = hops.pop();
    if (next === undefined || isIP(next) === 0) break;
    address = next;
  }
  return address;
}
