/**
 * ops/host/install-host.ts, run into a temporary root (never the machine itself): what it
 * writes, with which modes and owners, that a second run changes nothing, and that what it
 * writes is what the services read (the application service's configuration loads, Synapse
 * reads the signing key, every credential a unit loads exists).
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../appservice/src/config/config.ts";
import { ROOT } from "../stack/config.ts";
import { hostOptions, readYaml } from "./host-test-options.ts";
import {
  BACKUP_UNITS,
  hiddenFromServices,
  HOST_PATHS,
  installHost,
  UNITS,
  USERS,
  type InstallReport,
} from "./install-host.ts";

const root = mkdtempSync(join(tmpdir(), "connecta-host-"));
const options = hostOptions(root);
const at = (hostPath: string) => join(root, hostPath);
const read = (hostPath: string) => readFileSync(at(hostPath), "utf8");
const mode = (hostPath: string) => statSync(at(hostPath)).mode & 0o7777;
const asRoot = process.getuid?.() === 0;

/** `name → uid` of the temporary root's /etc/passwd. */
function users(): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of read("/etc/passwd").split("\n")) {
    const [name, , uid] = line.split(":");
    if (name && uid) map.set(name, Number(uid));
  }
  return map;
}

let first: InstallReport;
let secretsAfterFirst: Record<string, string>;

beforeAll(() => {
  first = installHost(options);
  secretsAfterFirst = Object.fromEntries(
    readdirSync(at(HOST_PATHS.secrets)).map((name) => [name, read(`${HOST_PATHS.secrets}/${name}`)]),
  );
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("install-host into an empty root", () => {
  it("names the five system users it creates (as root: creates them, with no login)", () => {
    expect(first.newUsers.sort()).toEqual(Object.values(USERS).sort());
    expect(read(HOST_PATHS.sysusers)).toContain("u connecta-synapse -");
    expect(first.usersCreated).toBe(asRoot);
    if (asRoot) {
      const passwd = read("/etc/passwd");
      for (const user of Object.values(USERS)) {
        expect(passwd).toMatch(new RegExp(`^${user}:x:\\d+:\\d+:[^:]*:/nonexistent:/usr/sbin/nologin$`, "m"));
      }
    }
  });

  it("keeps every secret root's alone: folder 0700, files 0600, none empty", () => {
    expect(mode(HOST_PATHS.secrets)).toBe(0o700);
    const names = Object.keys(secretsAfterFirst);
    expect(names).toEqual(
      expect.arrayContaining([
        "postgres.connecta_admin",
        "postgres.synapse",
        "postgres.connecta",
        "pgpass",
        "appservice.as_token",
        "appservice.hs_token",
        "operator.api_token",
        "synapse.signing.key",
        "synapse.macaroon",
        "synapse.form",
        "livekit.keys",
        "appservice-registration.yaml",
      ]),
    );
    for (const name of names) {
      const path = `${HOST_PATHS.secrets}/${name}`;
      expect(mode(path), path).toBe(0o600);
      if (asRoot) expect(statSync(at(path)).uid, path).toBe(0);
      expect(read(path).trim().length, path).toBeGreaterThan(16);
    }
    // Each generated secret is its own random value.
    const tokens = ["appservice.as_token", "appservice.hs_token", "operator.api_token", "synapse.macaroon"];
    expect(new Set(tokens.map((n) => secretsAfterFirst[n])).size).toBe(tokens.length);
  });

  it("writes configuration to /etc/connecta (no secret in it) and units to /etc/systemd/system", () => {
    for (const name of [
      "postgresql.conf",
      "pg_hba.conf",
      "pg_ident.conf",
      "postgresql-bootstrap.sql",
      "synapse/homeserver.yaml",
      "synapse/host.yaml",
      "synapse/log.yaml",
      "livekit.yaml",
      "appservice.env",
      "client.env",
    ]) {
      const path = `${HOST_PATHS.config}/${name}`;
      expect(mode(path), path).toBe(0o644);
      for (const secret of Object.values(secretsAfterFirst)) {
        const value = secret.trim().split(/\s+/).pop() ?? "";
        if (!value.includes("\n") && value.length > 16) expect(read(path), path).not.toContain(value);
      }
    }
    expect(readdirSync(at(HOST_PATHS.units)).sort()).toEqual([...UNITS, ...BACKUP_UNITS].sort());
    for (const unit of [...UNITS, ...BACKUP_UNITS]) expect(mode(`${HOST_PATHS.units}/${unit}`)).toBe(0o644);
  });

  it("sets up backups: archiving in postgresql.conf, pgBackRest's configuration, the backup folder", () => {
    const conf = read(`${HOST_PATHS.config}/postgresql.conf`);
    expect(conf).toContain("archive_mode = on\n");
    expect(conf).toContain(
      "archive_command = 'pgbackrest --config=/etc/connecta/pgbackrest.conf --stanza=connecta archive-push %p'\n",
    );
    expect(conf).toContain("archive_timeout = 60\n");
    // The repository's passphrase: generated in the secrets folder, readable by root and the cluster's user only.
    const pgbackrest = read(`${HOST_PATHS.config}/pgbackrest.conf`);
    expect(pgbackrest).toContain(`repo1-cipher-pass=${secretsAfterFirst["pgbackrest.cipher_pass"]}\n`);
    expect(pgbackrest).toContain("repo1-cipher-type=aes-256-cbc\n");
    expect(pgbackrest).toContain("repo1-path=/var/lib/connecta-backups/pgbackrest\n");
    expect(pgbackrest).toContain("pg1-path=/var/lib/connecta/postgresql\n");
    expect(pgbackrest).toContain("pg1-socket-path=/run/connecta-postgresql\n");
    expect(pgbackrest).toContain("pg1-port=5433\n");
    expect(mode(`${HOST_PATHS.config}/pgbackrest.conf`)).toBe(0o640);
    for (const name of ["", "/pgbackrest", "/lock", "/files"]) expect(mode(`${HOST_PATHS.backups}${name}`)).toBe(0o700);
    if (asRoot) {
      const pgUid = users().get(USERS.postgres);
      expect(statSync(at(`${HOST_PATHS.config}/pgbackrest.conf`)).uid).toBe(0);
      expect(statSync(at(`${HOST_PATHS.config}/pgbackrest.conf`)).gid).toBe(
        statSync(at(`${HOST_PATHS.data}/postgresql`)).gid,
      );
      for (const name of ["", "/pgbackrest", "/lock"])
        expect(statSync(at(`${HOST_PATHS.backups}${name}`)).uid).toBe(pgUid);
      expect(statSync(at(`${HOST_PATHS.backups}/files`)).uid).toBe(0);
    }
    const unit = read(`${HOST_PATHS.units}/connecta-postgresql.service`);
    expect(unit).toMatch(/^ReadWritePaths=-\/var\/lib\/connecta-backups$/m);
    // The backup unit runs this checkout's ops/connecta with backup.env, which leaves the key to the operator.
    expect(read(`${HOST_PATHS.units}/connecta-backup.service`)).toContain(
      `ExecStart=/bin/bash ${ROOT}/ops/connecta backup\n`,
    );
    expect(read(`${HOST_PATHS.config}/backup.env`)).toMatch(/^CONNECTA_BACKUP_AGE_RECIPIENT=$/m);
    expect(mode(`${HOST_PATHS.config}/backup.env`)).toBe(0o600);
  });

  it("makes the data folders under /var/lib/connecta, each its service's (as root)", () => {
    for (const [name, user] of [
      ["postgresql", USERS.postgres],
      ["synapse", USERS.synapse],
    ] as const) {
      const path = `${HOST_PATHS.data}/${name}`;
      expect(mode(path), path).toBe(0o700);
      if (asRoot) expect(statSync(at(path)).uid, path).toBe(users().get(user));
    }
  });

  it("configures Synapse for the host behind nginx, its secrets as systemd credentials", () => {
    const homeserver = readYaml(at(`${HOST_PATHS.config}/synapse/homeserver.yaml`)) as Record<string, unknown>;
    const host = readYaml(at(`${HOST_PATHS.config}/synapse/host.yaml`)) as Record<string, unknown>;
    const credentials = "/run/credentials/connecta-synapse.service";
    expect(homeserver).toMatchObject({
      server_name: "beratung.example.org",
      public_baseurl: "https://beratung.example.org/",
      signing_key_path: `${credentials}/synapse.signing.key`,
      media_store_path: "/var/lib/connecta/synapse/media",
      database: { args: { host: "127.0.0.1", port: 5433, passfile: `${credentials}/pgpass` } },
      matrix_rtc: { transports: [{ url: "wss://beratung.example.org/livekit" }] },
    });
    const listeners = homeserver.listeners as { type: string; x_forwarded?: boolean; bind_addresses: string[] }[];
    expect(listeners.find((l) => l.type === "http")).toMatchObject({
      x_forwarded: true,
      bind_addresses: ["127.0.0.1"],
    });
    expect(host).toEqual({
      pid_file: "/run/connecta-synapse/synapse.pid",
      log_config: "/etc/connecta/synapse/log.yaml",
      app_service_config_files: [`${credentials}/appservice-registration.yaml`],
    });
    const registration = readYaml(at(`${HOST_PATHS.secrets}/appservice-registration.yaml`)) as Record<string, unknown>;
    expect(registration.as_token).toBe(secretsAfterFirst["appservice.as_token"]?.trim());
    expect(registration.url).toBe("http://127.0.0.1:9009");
  });

  it("writes a signing key that Synapse reads", () => {
    const script =
      "import sys; from signedjson.key import read_signing_keys; k = read_signing_keys(open(sys.argv[1])); print(k[0].alg, k[0].version)";
    const out = execFileSync(options.synapsePython, ["-c", script, at(`${HOST_PATHS.secrets}/synapse.signing.key`)], {
      encoding: "utf8",
    });
    expect(out).toMatch(/^ed25519 a_[A-Za-z0-9]{4}\n$/);
  });

  it("writes an application service configuration that loads, with the credentials systemd hands it", () => {
    const credentials = "/run/credentials/connecta-appservice.service/";
    const env = Object.fromEntries(
      read(`${HOST_PATHS.config}/appservice.env`)
        .trim()
        .split("\n")
        .map((line) => {
          const [key = "", ...value] = line.split("=");
          // Where systemd copies them from: the secrets folder.
          return [key, value.join("=").replace(credentials, `${at(HOST_PATHS.secrets)}/`)];
        }),
    );
    const config = loadConfig(env);
    expect(config).toMatchObject({
      bindAddress: "127.0.0.1",
      port: 9009,
      serverName: "beratung.example.org",
      trustedProxies: ["127.0.0.1"],
      asToken: secretsAfterFirst["appservice.as_token"]?.trim(),
      databasePassword: secretsAfterFirst["postgres.connecta"]?.trim(),
    });
    expect(config.livekit).toMatchObject({ url: "wss://beratung.example.org/livekit", apiKey: "connecta" });
    const client = read(`${HOST_PATHS.config}/client.env`);
    expect(client).toContain("ORIGIN=https://beratung.example.org\n");
    expect(client).toContain("ADDRESS_HEADER=x-forwarded-for\nXFF_DEPTH=1\n");
  });

  it("loads into each unit exactly the credentials its configuration names, all of them generated", () => {
    const configs = ["synapse/homeserver.yaml", "synapse/host.yaml", "livekit.yaml", "appservice.env"].map((f) =>
      read(`${HOST_PATHS.config}/${f}`),
    );
    configs.push(
      read(`${HOST_PATHS.config}/postgresql-bootstrap.sql`).replaceAll(
        "$CREDENTIALS_DIRECTORY",
        "/run/credentials/connecta-postgresql.service",
      ),
    );
    configs.push(
      read(`${HOST_PATHS.units}/connecta-postgresql.service`).replaceAll(
        "%d",
        "/run/credentials/connecta-postgresql.service",
      ),
    );
    const named = new Set(
      configs.flatMap((text) =>
        [...text.matchAll(/\/run\/credentials\/([a-z-]+\.service)\/([A-Za-z0-9._-]+)/g)].map((m) => `${m[1]}/${m[2]}`),
      ),
    );
    const loaded = new Set<string>();
    for (const unit of UNITS) {
      for (const m of read(`${HOST_PATHS.units}/${unit}`).matchAll(/^LoadCredential=([^:]+):(.+)$/gm)) {
        loaded.add(`${unit}/${m[1]}`);
        expect(m[2]?.startsWith(`${HOST_PATHS.secrets}/`), m[0]).toBe(true);
        expect(mode(m[2] ?? ""), m[0]).toBe(0o600);
      }
    }
    expect([...named].sort()).toEqual([...loaded].sort());
  });
});

describe("install-host a second time", () => {
  it("changes nothing and keeps every secret", () => {
    const again = installHost(options);
    expect(again.changes).toEqual([]);
    expect(again.newUsers).toEqual(asRoot ? [] : Object.values(USERS));
    for (const [name, content] of Object.entries(secretsAfterFirst)) {
      expect(read(`${HOST_PATHS.secrets}/${name}`), name).toBe(content);
    }
  });

  it("keeps the age key the operator set in backup.env", () => {
    const env = `${HOST_PATHS.config}/backup.env`;
    const key = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    writeFileSync(
      at(env),
      read(env).replace(/^CONNECTA_BACKUP_AGE_RECIPIENT=$/m, `CONNECTA_BACKUP_AGE_RECIPIENT=${key}`),
    );
    expect(installHost(options).changes).toEqual([]);
    expect(read(env)).toContain(`\nCONNECTA_BACKUP_AGE_RECIPIENT=${key}\n`);
  });

  it("puts back a mode someone loosened, and only that", () => {
    chmodSync(at(`${HOST_PATHS.secrets}/postgres.synapse`), 0o644);
    const again = installHost(options);
    expect(again.changes).toEqual([{ path: `${HOST_PATHS.secrets}/postgres.synapse`, what: "mode" }]);
    expect(mode(`${HOST_PATHS.secrets}/postgres.synapse`)).toBe(0o600);
    expect(read(`${HOST_PATHS.secrets}/postgres.synapse`)).toBe(secretsAfterFirst["postgres.synapse"]);
  });
});

describe("hiddenFromServices", () => {
  it("finds programs that resolve into /root or /home, and venvs made from a Python there", () => {
    const dir = mkdtempSync(join(tmpdir(), "connecta-hidden-"));
    try {
      // A link into /root (which exists; nothing in it is read) and a venv like pyenv's.
      symlinkSync("/root", join(dir, "livekit-server"));
      mkdirSync(join(dir, "venv", "bin"), { recursive: true });
      symlinkSync("/usr/bin/env", join(dir, "venv", "bin", "python"));
      writeFileSync(join(dir, "venv", "pyvenv.cfg"), "home = /home/someone/.pyenv/versions/3.11.7/bin\n");
      const o = hostOptions(root);
      const problems = hiddenFromServices({
        ...o,
        appDir: process.cwd(),
        node: process.execPath,
        livekitServer: join(dir, "livekit-server"),
        synapsePython: join(dir, "venv", "bin", "python"),
      });
      expect(problems).toEqual([
        `livekitServer: ${dir}/livekit-server is /root, which ProtectHome=yes hides from the services`,
        "synapsePython: its venv was made from the Python in /home/someone/.pyenv/versions/3.11.7/bin, which ProtectHome=yes hides from the services",
      ]);
      expect(
        hiddenFromServices({
          ...o,
          appDir: "/usr",
          node: "/usr/bin/env",
          synapsePython: "/usr/bin/env",
          livekitServer: "/usr/bin/env",
          pgBin: o.pgBin,
        }),
      ).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("install-host refuses", () => {
  it.each([
    [
      "a server name that is no DNS name",
      { serverName: "Beratung Example" },
      "serverName: expected a lower-case DNS name",
    ],
    [
      "code under /home, which the services cannot see",
      { appDir: "/home/someone/connecta" },
      "appDir: /home/someone/connecta is hidden from the services (ProtectHome=yes)",
    ],
    [
      "a LiveKit binary that is missing",
      { livekitServer: "/opt/nowhere/livekit-server" },
      "livekitServer: /opt/nowhere/livekit-server does not exist",
    ],
  ])("%s", (_, change, message) => {
    const other = mkdtempSync(join(tmpdir(), "connecta-host-"));
    try {
      expect(() => installHost({ ...hostOptions(other), ...change })).toThrow(message);
      expect(readdirSync(other)).toEqual([]);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("on the command line with one line and status 2, before writing anything", () => {
    const other = mkdtempSync(join(tmpdir(), "connecta-host-"));
    const script = join(import.meta.dirname, "install-host.ts");
    const result = spawnSync(process.execPath, [script, "--root", other, "--server-name", "Bad Name"], {
      encoding: "utf8",
    });
    rmSync(other, { recursive: true, force: true });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('install-host: serverName: expected a lower-case DNS name, got "Bad Name"\n');
  });
});
