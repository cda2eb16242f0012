import { describe, expect, it } from "vitest";
import { firstNameserver, renderProxyConfig, secondsPerRequest, type ProxyOptions } from "./render-proxy.ts";

const base: ProxyOptions = {
  serverName: "beratung.example.org",
  certificate: "/etc/ssl/connecta/fullchain.pem",
  certificateKey: "/etc/ssl/connecta/privkey.pem",
  resolver: "127.0.0.53",
};

describe("renderProxyConfig", () => {
  it("fills every placeholder, with production defaults where nothing is given", () => {
    const conf = renderProxyConfig(base);
    expect(conf).not.toMatch(/\{\{|\}\}/);
    expect(conf).toContain("server_name beratung.example.org;");
    expect(conf).toContain("ssl_certificate     /etc/ssl/connecta/fullchain.pem;");
    expect(conf).toContain("listen 443 ssl http2;");
    expect(conf).toContain("listen 80;");
    expect(conf).toContain("server 127.0.0.1:3000;");
    expect(conf).toContain("server 127.0.0.1:8008;");
    expect(conf).toContain("server 127.0.0.1:7880;");
    expect(conf).toContain("zone=connecta_intake:10m rate=30r/m;");
    expect(conf).toContain("limit_req zone=connecta_intake burst=30 nodelay;");
    expect(conf).toContain("return 301 https://beratung.example.org$request_uri;");
  });

  it("uses the ports, addresses and limits it is given", () => {
    const conf = renderProxyConfig({
      ...base,
      httpsListen: "127.0.0.1:8443",
      httpListen: "127.0.0.1:8080",
      clientUpstream: "127.0.0.1:41000",
      synapseUpstream: "[::1]:41001",
      livekitUpstream: "localhost:41002",
      logDir: "/tmp/proxy-test",
      intakeLimit: { rate: "1r/m", burst: 3 },
    });
    expect(conf).toContain("listen 127.0.0.1:8443 ssl http2;");
    expect(conf).toContain("listen 127.0.0.1:8080;");
    expect(conf).toContain("server [::1]:41001;");
    expect(conf).toContain("access_log /tmp/proxy-test/connecta-access.log connecta_no_address;");
    expect(conf).toContain("rate=1r/m;");
    expect(conf).toContain("limit_req zone=connecta_intake burst=3 nodelay;");
    // The slowest limit (1r/m) tells when to try again.
    expect(conf).toContain("add_header Retry-After 60 always;");
    expect(conf).toContain('"retry_after_ms":60000}');
  });

  it("says when to try again after a 429: the time the slowest limit takes for one request", () => {
    expect(secondsPerRequest({ rate: "30r/m", burst: 0 })).toBe(2);
    expect(secondsPerRequest({ rate: "7r/m", burst: 0 })).toBe(9);
    expect(secondsPerRequest({ rate: "5r/s", burst: 0 })).toBe(1);
    const conf = renderProxyConfig(base);
    expect(conf).toContain("add_header Retry-After 2 always;");
    // The 429's own add_header drops the server's: the security headers are repeated there.
    const limited = /location @connecta_rate_limited \{[^}]+\}/.exec(conf)?.[0] ?? "";
    expect(limited).toContain('add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;');
    expect(limited).toContain("add_header X-Content-Type-Options nosniff always;");
  });

  it("logs no client address and proxies nothing to the application service", () => {
    const conf = renderProxyConfig(base);
    const formats = conf.match(/log_format[^;]+;/g) ?? [];
    expect(formats).toHaveLength(1);
    expect(formats[0]).not.toMatch(/remote_addr|http_x_forwarded_for|\$request |\$args|user_agent/);
    // The three upstreams, and no fourth.
    expect(conf.match(/^upstream /gm)).toHaveLength(3);
    expect(conf).not.toMatch(/proxy_pass http:\/\/(?!connecta_(client|synapse|livekit)\b)/);
  });

  it("gives the default HTTPS server the same TLS versions and ciphers as ours (OpenSSL takes its)", () => {
    const conf = renderProxyConfig(base);
    for (const directive of ["ssl_protocols", "ssl_ciphers", "ssl_prefer_server_ciphers", "ssl_session_tickets"]) {
      const lines = conf.match(new RegExp(`^\\s*${directive} [^;]+;`, "gm")) ?? [];
      expect(
        lines.map((l) => l.trim()),
        directive,
      ).toHaveLength(2);
      expect(lines[0]?.trim(), directive).toBe(lines[1]?.trim());
    }
    expect(conf).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
  });

  it("refuses values that could end an nginx directive, naming the option", () => {
    expect(() => renderProxyConfig({ ...base, serverName: "a.org; include /etc/passwd" })).toThrow("serverName");
    expect(() => renderProxyConfig({ ...base, certificate: "/x.pem;\n}" })).toThrow("certificate");
    expect(() => renderProxyConfig({ ...base, certificateKey: "relative/key.pem" })).toThrow("certificateKey");
    expect(() => renderProxyConfig({ ...base, clientUpstream: "127.0.0.1" })).toThrow("clientUpstream");
    expect(() => renderProxyConfig({ ...base, resolver: "dns.example.org" })).toThrow("resolver");
    expect(() => renderProxyConfig({ ...base, intakeLimit: { rate: "30", burst: 3 } })).toThrow("intakeLimit.rate");
    expect(() => renderProxyConfig({ ...base, loginLimit: { rate: "1r/s", burst: -1 } })).toThrow("loginLimit.burst");
  });
});

describe("firstNameserver", () => {
  it("reads the first nameserver and brackets an IPv6 one", () => {
    expect(firstNameserver("# generated\nsearch lan\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n")).toBe("10.0.0.1");
    expect(firstNameserver("nameserver fe80::1\n")).toBe("[fe80::1]");
    expect(firstNameserver("search lan\n")).toBeNull();
  });
});
