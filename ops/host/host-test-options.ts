/**
 * What ops/host's tests give install-host: the tools ops/connecta installed (the environment
 * names them, as for the e2e stack), a host name, this checkout. And a YAML reader: Synapse's
 * own PyYAML, since Node has none and we add no dependency for a test.
 */
import { execFileSync } from "node:child_process";
import type { HostOptions } from "./install-host.ts";

function tool(key: string): string {
  const value = process.env[key];
  if (!value) throw new Error(`${key} is not set: run the tests with 'ops/connecta test', which installs and sets it`);
  return value;
}

/** Options for a run of install-host into `root`. */
export function hostOptions(root: string): HostOptions {
  return {
    root,
    serverName: "beratung.example.org",
    pgBin: tool("CONNECTA_PG_BIN"),
    synapsePython: tool("CONNECTA_SYNAPSE_PYTHON"),
    livekitServer: tool("CONNECTA_LIVEKIT_SERVER"),
    publicIp: "192.0.2.10",
  };
}

/** A YAML file as Synapse reads it. */
export function readYaml(path: string): unknown {
  const script = "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
  return JSON.parse(execFileSync(tool("CONNECTA_SYNAPSE_PYTHON"), ["-c", script, path], { encoding: "utf8" }));
}
