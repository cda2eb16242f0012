/**
 * Reads an strace log of socket, connect, sendto, sendmsg and sendmmsg calls (tests/e2e/
 * no-outflow.test.ts) and lists every IPv4 and IPv6 address a process tried to reach, with its
 * port, whether it stays on this machine and whether the socket was a datagram (UDP) one, whose
 * connect sends nothing. Unix and netlink sockets are not network traffic and are left out; a
 * sendto without an address goes where its socket was connected to, which the connect call
 * shows.
 */

/** One address a process tried to reach. */
export interface SocketTarget {
  syscall: string;
  address: string;
  port: number;
  /** 127.0.0.0/8, ::1, their IPv4-mapped forms, or the unspecified address (this machine). */
  loopback: boolean;
  /** A connect of a datagram socket: it only chooses where datagrams would go, nothing is sent. */
  datagram: boolean;
  /** The strace line, for the failure message. */
  line: string;
}

const SYSCALL = /^(?:\d+ +)?(?:<\.\.\. )?(connect|sendto|sendmsg|sendmmsg)\b/;
const SOCKET = /^(\d+) +socket\(AF_INET6?, (SOCK_\w+)/;
const SOCKET_DONE = /^(\d+) +(?:socket\(.*|<\.\.\. socket resumed>.*)\) += (\d+)$/;
const CONNECT_FD = /^(\d+) +connect\((\d+),/;
const ADDRESS =
  /sa_family=AF_INET6?, sin6?_port=htons\((\d+)\),[^}]*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")/g;

/** Whether `address` (IPv4 or IPv6 text) is on this machine. */
export function isLoopback(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, "");
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v4)) return v4.startsWith("127.") || v4 === "0.0.0.0";
  return address === "::1" || address === "::";
}

/** Every address in `log` that a process tried to reach. */
export function socketTargets(log: string): SocketTarget[] {
  const targets: SocketTarget[] = [];
  /** Per process: the type of the IP socket it is creating, then of each descriptor it holds. */
  const creating = new Map<string, string>();
  const types = new Map<string, string>();
  for (const line of log.split("\n")) {
    const created = SOCKET.exec(line);
    if (created) creating.set(created[1] ?? "", created[2] ?? "");
    const done = SOCKET_DONE.exec(line);
    if (done && creating.has(done[1] ?? "")) {
      types.set(`${done[1]}:${done[2]}`, creating.get(done[1] ?? "") ?? "");
      creating.delete(done[1] ?? "");
    }
    const syscall = SYSCALL.exec(line)?.[1];
    if (!syscall) continue;
    const fd = CONNECT_FD.exec(line);
    const datagram = fd !== null && types.get(`${fd[1]}:${fd[2]}`) === "SOCK_DGRAM";
    for (const match of line.matchAll(ADDRESS)) {
      const address = match[2] ?? match[3] ?? "";
      targets.push({ syscall, address, port: Number(match[1]), loopback: isLoopback(address), datagram, line });
    }
  }
  return targets;
}
