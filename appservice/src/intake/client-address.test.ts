import { describe, expect, it } from "vitest";
import { clientAddress, normaliseAddress } from "./client-address.ts";

const proxies = new Set(["127.0.0.1", "::1"]);

describe("clientAddress", () => {
  it("is the peer when the peer is no trusted proxy, whatever the header says", () => {
    expect(clientAddress("192.0.2.7", "10.0.0.1", proxies)).toBe("192.0.2.7");
    expect(clientAddress("::ffff:192.0.2.7", "10.0.0.1", proxies)).toBe("192.0.2.7");
    expect(clientAddress("192.0.2.7", "10.0.0.1", new Set())).toBe("192.0.2.7");
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
});

describe("normaliseAddress", () => {
  it("writes IPv4-mapped IPv6 as IPv4 and drops zones", () => {
    expect(normaliseAddress("::FFFF:10.1.2.3")).toBe("10.1.2.3");
    expect(normaliseAddress("fe80::1%eth0")).toBe("fe80::1");
  });
});
