import { describe, expect, it } from "vitest";
import { isLoopback, socketTargets } from "./outflow.ts";

// Lines as strace 6 writes them with -f.
const LOG = [
  '101 connect(3, {sa_family=AF_INET, sin_port=htons(5432), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
  '102 connect(7, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2a00:1450::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH (Network is unreachable)',
  '103 connect(4, {sa_family=AF_UNIX, sun_path="/var/run/postgresql/.s.PGSQL.5432"}, 110) = 0',
  '104 sendto(5, "\\x12\\x34"..., 30, MSG_NOSIGNAL, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("192.168.1.1")}, 16) = 30',
  '105 sendto(5, "GET / HTTP/1.1"..., 14, MSG_NOSIGNAL, NULL, 0) = 14',
  '106 sendmmsg(9, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, msg_namelen=16}}], 1, MSG_NOSIGNAL) = 1',
  '107 connect(6, {sa_family=AF_INET6, sin6_port=htons(8008), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>',
  "107 <... connect resumed>) = 0",
  "108 connect(3, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 0",
  "109 socket(AF_INET6, SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP <unfinished ...>",
  "109 <... socket resumed>) = 17",
  '109 connect(17, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:4860:4860::8888", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH (Network is unreachable)',
  "110 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 17",
  '110 connect(17, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("8.8.8.8")}, 16) = -1 ENETUNREACH (Network is unreachable)',
].join("\n");

describe("socketTargets", () => {
  it("lists every IPv4 and IPv6 address tried, with port and whether it stays on the machine", () => {
    expect(
      socketTargets(LOG).map(({ syscall, address, port, loopback }) => [syscall, address, port, loopback]),
    ).toEqual([
      ["connect", "127.0.0.1", 5432, true],
      ["connect", "2a00:1450::1", 443, false],
      ["sendto", "192.168.1.1", 53, false],
      ["sendmmsg", "127.0.0.53", 53, true],
      ["connect", "::ffff:127.0.0.1", 8008, true],
      ["connect", "2001:4860:4860::8888", 443, false],
      ["connect", "8.8.8.8", 443, false],
    ]);
    // Which connects were of datagram sockets (they send nothing), per process and descriptor.
    expect(socketTargets(LOG).map((t) => t.datagram)).toEqual([false, false, false, false, false, true, false]);
  });

  it("tells loopback from everything else", () => {
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::"])
      expect(isLoopback(a), a).toBe(true);
    for (const a of ["10.0.0.1", "192.168.0.1", "1.1.1.1", "fe80::1", "::ffff:8.8.8.8", "128.0.0.1"]) {
      expect(isLoopback(a), a).toBe(false);
    }
  });
});
