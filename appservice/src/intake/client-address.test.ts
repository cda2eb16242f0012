import { describe, expect, it } from "vitest";
import { clientAddress, normaliseAddress, parseAddressRange, trustedProxies } from "./client-address.ts";

const proxies = trustedProxies(["127.0.0.1", "::1"]);
const none = trustedProxies([]);

describe("clientAddress", () => {
  it("is the peer when the peer is no trusted proxy, whatever the header says", () => {
    expect(clientAddress("192.0.2.7", "10.0.0.1", proxies)).toBe("192.0.2.7");
    expect(clientAddress("::ffff:192.0.2.7", "10.0.0.1", proxies)).toBe("192.0.2.7");
    expect(clientAddress("192.0.2.7", "10.0.0.1", none)).toBe("192.0.2.7");
  });

  it("is the forwarded address when a trusted proxy sends one", () => {
    expect(clientAddress("127.0.0.1", "198.51.100.4", proxies)).toBe("198.51.100.4");
    expect(clientAddress("::ffff:127.0.0.1", " 2001:DB8::1 ", proxies)).toBe("2001:db8::1");
  });

  it("takes the right-most address that is not a trusted proxy", () => {
    expect(clientAddress("127.0.0.1", "203.0.113.9, 198.51.100.4, ::1", proxies)).toBe("198.51.100.4");
  });

  it("keeps the peer when a trusted proxy sends no usable header", () => {
    expect(clientAddress("127.0.0.1", undefined, proxies)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", "", proxies)).toBe("127.0.0.1");
    expect(clientAddress("127.0.0.1", "not-an-address", proxies)).toBe("127.0.0.1");
  });

  it("is undefined without a peer", () => {
    expect(clientAddress(undefined, "198.51.100.4", proxies)).toBeUndefined();
  });

  it("believes every peer inside a trusted range, and no peer outside it", () => {
    const pods = trustedProxies(["10.0.0.0/8", "fd00::/8"]);
    expect(clientAddress("10.42.7.19", "198.51.100.4", pods)).toBe("198.51.100.4");
    expect(clientAddress("::ffff:10.0.0.2", "198.51.100.4", pods)).toBe("198.51.100.4");
    expect(clientAddress("fd12:3456::9", "2001:db8::1", pods)).toBe("2001:db8::1");
    expect(clientAddress("11.0.0.1", "198.51.100.4", pods)).toBe("11.0.0.1");
    expect(clientAddress("fe80::1", "198.51.100.4", pods)).toBe("fe80::1");
    // A hop inside the range is skipped like the peer: the client is the first address outside.
    expect(clientAddress("10.1.1.1", "198.51.100.4, 10.9.9.9", pods)).toBe("198.51.100.4");
  });
});

describe("trustedProxies", () => {
  it("compares addresses, not spellings", () => {
    const check = trustedProxies(["::ffff:127.0.0.1", "2001:DB8::1"]);
    expect(check("127.0.0.1")).toBe(true);
    expect(check("2001:db8:0::1")).toBe(true);
    expect(check("2001:db8::2")).toBe(false);
    expect(check("not-an-address")).toBe(false);
  });

  it("refuses what is no address or range", () => {
    expect(() => trustedProxies(["proxy.example"])).toThrow('not an IP address or range: "proxy.example"');
  });
});

describe("parseAddressRange", () => {
  it("reads addresses as ranges of one and CIDR ranges with their prefix", () => {
    expect(parseAddressRange("192.0.2.1")).toEqual({ network: "192.0.2.1", prefix: 32, family: "ipv4" });
    expect(parseAddressRange(" 10.0.0.0/8 ")).toEqual({ network: "10.0.0.0", prefix: 8, family: "ipv4" });
    expect(parseAddressRange("FD00::/8")).toEqual({ network: "fd00::", prefix: 8, family: "ipv6" });
    expect(parseAddressRange("::1")).toEqual({ network: "::1", prefix: 128, family: "ipv6" });
  });

  it.each([
    "",
    "proxy.example",
    "10.0.0.0/",
    "10.0.0.0/33",
    "10.0.0.0/0",
    "::/0",
    "fd00::/129",
    "10.0.0.0/8/8",
    "10.0.0.0/+8",
    "fe80::1%eth0",
    "10.0.0.0/08x",
  ])("refuses %j", (entry) => {
    expect(parseAddressRange(entry)).toBeNull();
  });
});

describe("normaliseAddress", () => {
  it("writes IPv4-mapped IPv6 as IPv4 and drops zones", () => {
    expect(normaliseAddress("::FFFF:10.1.2.3")).toBe("10.1.2.3");
    expect(normaliseAddress("fe80::1%eth0")).toBe("fe80::1");
  });
});
