/**
 * connecta-admin: the operator's command line for topics, agencies, counsellors, queues, the
 * security event log, retention and data-protection requests.
 * It calls the admin HTTP API (`/api/v1/admin/...`) with the operator token and prints plain
 * text (or the API's JSON with `--json`). Run it as `npm run admin -- <command>` or
 * `node appservice/src/cli/admin.ts <command>`; `help` lists the commands. Exit codes: 0 done,
 * 1 refused or failed (one line on stderr names the problem), 2 wrong command line.
 */
import { parseArgs } from "node:util";
import type { AgencyJson } from "../admin/agencies.ts";
import type { AuditEntry } from "../audit/audit.ts";
import type { CounsellorJson } from "../admin/counsellors.ts";
import type { QueueJson } from "../admin/queue.ts";
import type { RetentionPolicy } from "../retention/policies.ts";
import type { SweepResult } from "../retention/sweeper.ts";
import type { TopicJson } from "../admin/topics.ts";
import { CliError, createRequest, readToken, resolveUrl, type Request } from "./client.ts";
import { duration, list, table } from "./format.ts";

type OptionSpec = Record<string, { type: "string" | "boolean" }>;
type Values = Record<string, string | boolean | undefined>;

/** What a command gets. */
interface Run {
  request: Request;
  /** Required positional arguments, by name. */
  args: Record<string, string>;
  opts: Values;
  /** Prints text, or the JSON answer with `--json`. */
  out: (json: unknown, text: () => string) => void;
}

interface Command {
  /** Positional argument names, e.g. `["id"]`. */
  args: string[];
  options: OptionSpec;
  usage: string;
  run: (r: Run) => Promise<void>;
}

const GLOBAL_OPTIONS: OptionSpec = {
  url: { type: "string" },
  "token-file": { type: "string" },
  json: { type: "boolean" },
};

const usage = (message: string) => new CliError(`${message} (see: connecta-admin help)`, 2);

const str = (v: string | boolean | undefined): string | undefined => (typeof v === "string" ? v : undefined);

function required(opts: Values, name: string): string {
  const value = str(opts[name]);
  if (value === undefined) throw usage(`--${name} is required`);
  return value;
}

function items(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function yesNo(name: string, value: string): boolean {
  if (/^(yes|true)$/i.test(value)) return true;
  if (/^(no|false)$/i.test(value)) return false;
  throw usage(`--${name}: expected yes or no, got "${value}"`);
}

/** `10000-14999,20095` → ranges; a single postcode is a range of one. */
function postcodes(value: string): { first: string; last: string }[] {
  return items(value).map((item) => {
    const match = /^([0-9]{5})(?:-([0-9]{5}))?$/.exec(item);
    if (!match?.[1]) throw usage(`--postcodes: "${item}" is not a postcode or range like 10000-14999`);
    return { first: match[1], last: match[2] ?? match[1] };
  });
}

/** `1,2:team_lead` → memberships (role counsellor unless given). */
function memberships(value: string): { agency_id: number; role: string }[] {
  return items(value).map((item) => {
    const match = /^([0-9]{1,15})(?::(counsellor|team_lead))?$/.exec(item);
    if (!match?.[1]) throw usage(`--agencies: "${item}" is not AGENCY_ID or AGENCY_ID:team_lead`);
    return { agency_id: Number(match[1]), role: match[2] ?? "counsellor" };
  });
}

/** Drops undefined values, so only given options reach the API. */
function defined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

const seg = encodeURIComponent;

function describeAgency(a: AgencyJson): string {
  const ranges = a.postcode_ranges.map((r) => (r.first === r.last ? r.first : `${r.first}-${r.last}`));
  return [
    `agency ${a.id}: ${a.name}`,
    `  languages:   ${list(a.languages)}`,
    `  fallback:    ${a.is_fallback ? "yes (takes every topic and postcode nobody else covers)" : "no"}`,
    `  topics:      ${list(a.topics)}`,
    `  postcodes:   ${list(ranges)}`,
    `  counsellors: ${a.counsellor_count}`,
  ].join("\n");
}

function counsellorStatus(c: CounsellorJson): string {
  if (c.deactivated_at) return "deactivated";
  const status = [c.absent ? "absent" : "present"];
  if (c.must_change_password) status.push("initial password");
  return status.join(", ");
}

function describeCounsellor(c: CounsellorJson): string {
  const agencies = c.memberships.map((m) => `${m.agency_id} ${m.agency_name} (${m.role})`);
  return [
    `counsellor ${c.user_id}: ${c.display_name}`,
    `  language:   ${c.language}`,
    `  status:     ${counsellorStatus(c)}`,
    ...(c.absence_message ? [`  absence:    ${c.absence_message.replace(/\s+/g, " ")}`] : []),
    `  agencies:   ${agencies.length ? agencies.join("; ") : "-"}`,
    `  active enquiries: ${c.active_enquiries}`,
  ].join("\n");
}

function passwordNotice(password: string): string {
  return [
    "",
    `Initial password: ${password}`,
    "",
    "Give it to the counsellor through a safe channel (in person or by phone, not by e-mail).",
    "It is stored nowhere and cannot be shown again; the counsellor must replace it at the first login.",
  ].join("\n");
}

/** `--<name>` as a whole number; a usage error otherwise. */
function whole(opts: Values, name: string): number {
  const value = required(opts, name);
  if (!/^[0-9]{1,9}$/.test(value)) throw usage(`--${name}: expected a whole number, got "${value}"`);
  return Number(value);
}

/** An agency id given with `--agency`. */
function agencyId(opts: Values): string {
  const value = required(opts, "agency");
  if (!/^[0-9]{1,15}$/.test(value)) throw usage(`--agency: expected an agency id, got "${value}"`);
  return value;
}

/** The answer of the retention routes: the defaults and the agencies with their own periods. */
interface RetentionJson {
  defaults: RetentionPolicy;
  agencies: (RetentionPolicy & { agency_id: number })[];
}

function describeRetention(r: RetentionJson): string {
  const row = (who: string, p: RetentionPolicy) => [
    who,
    String(p.archived_days),
    String(p.unfinished_hours),
    String(p.inactive_days),
  ];
  return [
    table(
      ["AGENCY", "ARCHIVED DAYS", "UNFINISHED HOURS", "INACTIVE DAYS"],
      [row("defaults", r.defaults), ...r.agencies.map((a) => row(String(a.agency_id), a))],
    ),
    "",
    "archived: days after closing an archived conversation is deleted; unfinished: hours until an unfinished",
    "intake, or a conversation the seeker never wrote in, is deleted; inactive: days without any event until a",
    "conversation (with its seeker) is deleted. Agencies not listed use the defaults.",
  ].join("\n");
}

function describeSweep(s: SweepResult, dryRun: boolean): string {
  const verb = dryRun ? "would purge" : "purging";
  return [
    s.enquiries.length
      ? [
          `${verb} ${s.enquiries.length} conversation(s):`,
          table(
            ["ENQUIRY", "REASON", "ROOM"],
            s.enquiries.map((e) => [String(e.enquiry_id), e.reason, e.room_id ?? "-"]),
          ),
        ].join("\n")
      : `${dryRun ? "would purge" : "purged"} no conversations`,
    `${verb} ${s.intakes.length} unfinished intake(s)${s.intakes.length ? `: ${list(s.intakes.map((i) => i.user_id))}` : ""}`,
    ...(dryRun
      ? ["dry run: nothing was changed"]
      : [
          `deleted ${s.expired_rows} expired row(s) (rate-limit windows, used challenges, skipped events)`,
          ...(s.enquiries.length || s.intakes.length
            ? ["The purges run in the background; `retention sweep --dry-run` no longer lists them."]
            : []),
        ]),
  ].join("\n");
}

/** The answer of `GET /audit/verify`. */
interface AuditVerdict {
  ok: boolean;
  count: number;
  head: { id: string; hash: string } | null;
  problem: { id: string; kind: string; message: string } | null;
}

const COMMANDS: Record<string, Command> = {
  "topic add": {
    args: ["id"],
    options: { de: { type: "string" }, en: { type: "string" } },
    usage: "topic add <id> --de <German name> --en <English name>",
    run: async ({ request, args, opts, out }) => {
      const body = { id: args.id, name_de: required(opts, "de"), name_en: required(opts, "en") };
      const t = await request<TopicJson>("POST", "/topics", body);
      out(t, () => `topic ${t.id} added: ${t.name_de} / ${t.name_en}`);
    },
  },
  "topic list": {
    args: [],
    options: {},
    usage: "topic list",
    run: async ({ request, out }) => {
      const { topics } = await request<{ topics: TopicJson[] }>("GET", "/topics");
      out({ topics }, () =>
        topics.length
          ? table(
              ["ID", "GERMAN", "ENGLISH", "AGENCIES"],
              topics.map((t) => [t.id, t.name_de, t.name_en, String(t.agency_count)]),
            )
          : "no topics yet; add one with: connecta-admin topic add <id> --de <name> --en <name>",
      );
    },
  },
  "topic update": {
    args: ["id"],
    options: { de: { type: "string" }, en: { type: "string" } },
    usage: "topic update <id> [--de <German name>] [--en <English name>]",
    run: async ({ request, args, opts, out }) => {
      const body = defined({ name_de: str(opts.de), name_en: str(opts.en) });
      const t = await request<TopicJson>("PATCH", `/topics/${seg(args.id ?? "")}`, body);
      out(t, () => `topic ${t.id} now: ${t.name_de} / ${t.name_en}`);
    },
  },
  "agency add": {
    args: [],
    options: {
      name: { type: "string" },
      languages: { type: "string" },
      fallback: { type: "boolean" },
      topics: { type: "string" },
      postcodes: { type: "string" },
    },
    usage:
      "agency add --name <name> [--languages de,en] [--fallback] [--topics <id>,<id>] [--postcodes 10000-14999,20095]",
    run: async ({ request, opts, out }) => {
      const body = defined({
        name: required(opts, "name"),
        languages: str(opts.languages) === undefined ? undefined : items(str(opts.languages) ?? ""),
        is_fallback: opts.fallback === true ? true : undefined,
        topics: str(opts.topics) === undefined ? undefined : items(str(opts.topics) ?? ""),
        postcode_ranges: str(opts.postcodes) === undefined ? undefined : postcodes(str(opts.postcodes) ?? ""),
      });
      const a = await request<AgencyJson>("POST", "/agencies", body);
      out(a, () => `added ${describeAgency(a)}`);
    },
  },
  "agency list": {
    args: [],
    options: {},
    usage: "agency list",
    run: async ({ request, out }) => {
      const { agencies } = await request<{ agencies: AgencyJson[] }>("GET", "/agencies");
      out({ agencies }, () =>
        agencies.length
          ? table(
              ["ID", "NAME", "LANGUAGES", "FALLBACK", "TOPICS", "POSTCODE RANGES", "COUNSELLORS"],
              agencies.map((a) => [
                String(a.id),
                a.name,
                list(a.languages),
                a.is_fallback ? "yes" : "no",
                list(a.topics),
                String(a.postcode_ranges.length),
                String(a.counsellor_count),
              ]),
            )
          : "no agencies yet; add one with: connecta-admin agency add --name <name> ...",
      );
    },
  },
  "agency show": {
    args: ["id"],
    options: {},
    usage: "agency show <id>",
    run: async ({ request, args, out }) => {
      const a = await request<AgencyJson>("GET", `/agencies/${seg(args.id ?? "")}`);
      out(a, () => describeAgency(a));
    },
  },
  "agency update": {
    args: ["id"],
    options: {
      name: { type: "string" },
      languages: { type: "string" },
      fallback: { type: "string" },
      topics: { type: "string" },
      postcodes: { type: "string" },
    },
    usage:
      'agency update <id> [--name <name>] [--languages de,en] [--fallback yes|no] [--topics <id>,<id>] [--postcodes <ranges>]  (--topics "" or --postcodes "" remove all)',
    run: async ({ request, args, opts, out }) => {
      const body = defined({
        name: str(opts.name),
        languages: str(opts.languages) === undefined ? undefined : items(str(opts.languages) ?? ""),
        is_fallback: str(opts.fallback) === undefined ? undefined : yesNo("fallback", str(opts.fallback) ?? ""),
        topics: str(opts.topics) === undefined ? undefined : items(str(opts.topics) ?? ""),
        postcode_ranges: str(opts.postcodes) === undefined ? undefined : postcodes(str(opts.postcodes) ?? ""),
      });
      const a = await request<AgencyJson>("PATCH", `/agencies/${seg(args.id ?? "")}`, body);
      out(a, () => `updated ${describeAgency(a)}`);
    },
  },
  "agency delete": {
    args: ["id"],
    options: {},
    usage: "agency delete <id>",
    run: async ({ request, args, out }) => {
      const result = await request<{ deleted: number }>("DELETE", `/agencies/${seg(args.id ?? "")}`);
      out(result, () => `agency ${result.deleted} deleted`);
    },
  },
  "counsellor add": {
    args: ["localpart"],
    options: { name: { type: "string" }, language: { type: "string" }, agencies: { type: "string" } },
    usage: "counsellor add <localpart> --name <display name> [--language de|en] [--agencies 1,2:team_lead]",
    run: async ({ request, args, opts, out }) => {
      const body = defined({
        localpart: args.localpart,
        display_name: required(opts, "name"),
        language: str(opts.language),
        memberships: str(opts.agencies) === undefined ? undefined : memberships(str(opts.agencies) ?? ""),
      });
      const result = await request<{ created: boolean; counsellor: CounsellorJson; initial_password?: string }>(
        "POST",
        "/counsellors",
        body,
      );
      out(result, () =>
        result.initial_password
          ? `added ${describeCounsellor(result.counsellor)}\n${passwordNotice(result.initial_password)}`
          : [
              `${result.counsellor.user_id} exists already with these details (an earlier attempt created it).`,
              "Its initial password was shown then. If it was lost, give a new one with:",
              `  connecta-admin counsellor reset-password ${result.counsellor.localpart}`,
            ].join("\n"),
      );
    },
  },
  "counsellor list": {
    args: [],
    options: { agency: { type: "string" } },
    usage: "counsellor list [--agency <id>]",
    run: async ({ request, opts, out }) => {
      const agency = str(opts.agency);
      const query = agency === undefined ? "" : `?agency=${seg(agency)}`;
      const { counsellors } = await request<{ counsellors: CounsellorJson[] }>("GET", `/counsellors${query}`);
      out({ counsellors }, () =>
        counsellors.length
          ? table(
              ["LOCALPART", "NAME", "LANGUAGE", "AGENCIES", "ACTIVE", "STATUS"],
              counsellors.map((c) => [
                c.localpart,
                c.display_name,
                c.language,
                list(
                  c.memberships.map((m) => (m.role === "team_lead" ? `${m.agency_id}:team_lead` : `${m.agency_id}`)),
                ),
                String(c.active_enquiries),
                counsellorStatus(c),
              ]),
            )
          : "no counsellors",
      );
    },
  },
  "counsellor show": {
    args: ["localpart"],
    options: {},
    usage: "counsellor show <localpart>",
    run: async ({ request, args, out }) => {
      const c = await request<CounsellorJson>("GET", `/counsellors/${seg(args.localpart ?? "")}`);
      out(c, () => describeCounsellor(c));
    },
  },
  "counsellor update": {
    args: ["localpart"],
    options: {
      name: { type: "string" },
      language: { type: "string" },
      agencies: { type: "string" },
      absent: { type: "string" },
      "absence-message": { type: "string" },
      "clear-absence-message": { type: "boolean" },
    },
    usage:
      'counsellor update <localpart> [--name <display name>] [--language de|en] [--agencies 1,2:team_lead] [--absent yes|no] [--absence-message <text> | --clear-absence-message]  (--agencies "" removes all)',
    run: async ({ request, args, opts, out }) => {
      if (opts["clear-absence-message"] && str(opts["absence-message"]) !== undefined) {
        throw usage("give --absence-message or --clear-absence-message, not both");
      }
      const body = defined({
        display_name: str(opts.name),
        language: str(opts.language),
        memberships: str(opts.agencies) === undefined ? undefined : memberships(str(opts.agencies) ?? ""),
        absent: str(opts.absent) === undefined ? undefined : yesNo("absent", str(opts.absent) ?? ""),
        absence_message: opts["clear-absence-message"] ? null : str(opts["absence-message"]),
      });
      const c = await request<CounsellorJson>("PATCH", `/counsellors/${seg(args.localpart ?? "")}`, body);
      out(c, () => `updated ${describeCounsellor(c)}`);
    },
  },
  "counsellor reset-password": {
    args: ["localpart"],
    options: {},
    usage: "counsellor reset-password <localpart>",
    run: async ({ request, args, out }) => {
      const result = await request<{ counsellor: CounsellorJson; initial_password: string }>(
        "POST",
        `/counsellors/${seg(args.localpart ?? "")}/password`,
      );
      out(
        result,
        () =>
          `new initial password for ${result.counsellor.user_id}; all their devices are logged out\n${passwordNotice(result.initial_password)}`,
      );
    },
  },
  "counsellor deactivate": {
    args: ["localpart"],
    options: {},
    usage: "counsellor deactivate <localpart>",
    run: async ({ request, args, out }) => {
      const c = await request<CounsellorJson>("POST", `/counsellors/${seg(args.localpart ?? "")}/deactivate`);
      out(c, () => `${c.user_id} deactivated: memberships removed, Matrix account closed`);
    },
  },
  "audit list": {
    args: [],
    options: { since: { type: "string" }, class: { type: "string" }, limit: { type: "string" } },
    usage: "audit list [--since <ISO time>] [--class low|medium|high|critical] [--limit <n>]  (newest first)",
    run: async ({ request, opts, out }) => {
      const params = new URLSearchParams(
        defined({ since: str(opts.since), class: str(opts.class), limit: str(opts.limit) }) as Record<string, string>,
      );
      const query = params.size ? `?${params}` : "";
      const { entries } = await request<{ entries: AuditEntry[] }>("GET", `/audit${query}`);
      out({ entries }, () =>
        entries.length
          ? table(
              ["ID", "TIME", "CLASS", "ACTION", "ACTOR", "TARGET", "ADDRESS", "COUNT"],
              entries.map((e) => [
                e.id,
                e.at,
                e.class,
                e.action,
                e.actor,
                e.target ?? "-",
                e.client_address ?? "-",
                String(e.count),
              ]),
            )
          : "no security events",
      );
    },
  },
  "audit verify": {
    args: [],
    options: {},
    usage: "audit verify  (exit 1 if the chain is broken)",
    run: async ({ request, out }) => {
      const verdict = await request<AuditVerdict>("GET", "/audit/verify");
      out(verdict, () =>
        verdict.ok
          ? [
              `OK: ${verdict.count} entries, chain intact`,
              verdict.head ? `head: entry ${verdict.head.id} ${verdict.head.hash}` : "the log is empty",
              "Keep the head's id and hash: a later check whose chain does not hold them shows entries cut off the end.",
            ].join("\n")
          : [
              `BROKEN: ${verdict.problem?.message ?? "unknown problem"}`,
              `${verdict.count} entries before it are intact. See docs/runbooks/incident.md.`,
            ].join("\n"),
      );
      if (!verdict.ok) throw new CliError(`the security event log's chain is broken at entry ${verdict.problem?.id}`);
    },
  },
  "retention show": {
    args: [],
    options: {},
    usage: "retention show",
    run: async ({ request, out }) => {
      const r = await request<RetentionJson>("GET", "/retention");
      out(r, () => describeRetention(r));
    },
  },
  "retention set": {
    args: [],
    options: {
      agency: { type: "string" },
      "archived-days": { type: "string" },
      "unfinished-hours": { type: "string" },
      "inactive-days": { type: "string" },
    },
    usage:
      "retention set [--agency <id>] --archived-days <n> --unfinished-hours <n> --inactive-days <n>  (the defaults without --agency)",
    run: async ({ request, opts, out }) => {
      const body = {
        archived_days: whole(opts, "archived-days"),
        unfinished_hours: whole(opts, "unfinished-hours"),
        inactive_days: whole(opts, "inactive-days"),
      };
      const agency = str(opts.agency) === undefined ? null : agencyId(opts);
      const r = await request<RetentionJson>(
        "PUT",
        agency === null ? "/retention/defaults" : `/retention/agencies/${seg(agency)}`,
        body,
      );
      out(r, () => `${agency === null ? "defaults" : `agency ${agency}`} set\n${describeRetention(r)}`);
    },
  },
  "retention reset": {
    args: [],
    options: { agency: { type: "string" } },
    usage: "retention reset --agency <id>  (the agency uses the defaults again)",
    run: async ({ request, opts, out }) => {
      const agency = agencyId(opts);
      const r = await request<RetentionJson>("DELETE", `/retention/agencies/${seg(agency)}`);
      out(r, () => `agency ${agency} uses the defaults again\n${describeRetention(r)}`);
    },
  },
  "retention sweep": {
    args: [],
    options: { "dry-run": { type: "boolean" } },
    usage: "retention sweep [--dry-run]  (purge now what is past its period; --dry-run only lists it)",
    run: async ({ request, opts, out }) => {
      const dryRun = opts["dry-run"] === true;
      const s = await request<SweepResult>("POST", "/retention/sweep", { dry_run: dryRun });
      if (!s.ran) throw new CliError("another sweep is running (every agency's, started elsewhere); try again shortly");
      out(s, () => describeSweep(s, dryRun));
    },
  },
  "user export": {
    args: ["user_id"],
    options: {},
    usage: "user export <@user:server>  (prints what the server keeps about a seeker, as JSON; Art. 15 GDPR)",
    run: async ({ request, args }) => {
      const data = await request<unknown>("GET", `/users/${seg(args.user_id ?? "")}/export`);
      // Always JSON: it is what the seeker receives (docs/operators.md).
      process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    },
  },
  "user erase": {
    args: ["user_id"],
    options: { yes: { type: "boolean" } },
    usage: "user erase <@user:server> --yes  (deletes a seeker's account and conversations; Art. 17 GDPR)",
    run: async ({ request, args, opts, out }) => {
      if (opts.yes !== true) {
        throw new CliError(
          `erasing ${args.user_id} deletes their account and every conversation of theirs for good; add --yes to do it`,
        );
      }
      const r = await request<{ enquiries: number }>("POST", `/users/${seg(args.user_id ?? "")}/erasure`, {});
      out(
        r,
        () =>
          `erasing ${args.user_id}: ${r.enquiries} conversation(s) are being deleted (their counsellors are told, without content), then the account`,
      );
    },
  },
  queue: {
    args: [],
    options: { agency: { type: "string" }, state: { type: "string" }, limit: { type: "string" } },
    usage: "queue [--agency <id>] [--state created|waiting|active|closed|archived] [--limit <n>]",
    run: async ({ request, opts, out }) => {
      const params = new URLSearchParams(
        defined({ agency: str(opts.agency), state: str(opts.state), limit: str(opts.limit) }) as Record<string, string>,
      );
      const query = params.size ? `?${params}` : "";
      const q = await request<QueueJson>("GET", `/queue${query}`);
      const state = str(opts.state) ?? "waiting";
      out(q, () =>
        [
          table(
            ["AGENCY", "NAME", "CREATED", "WAITING", "ACTIVE", "CLOSED", "ARCHIVED", "LONGEST WAIT", "AVERAGE WAIT"],
            q.agencies.map((a) => [
              String(a.agency_id),
              a.agency_name,
              String(a.counts.created),
              String(a.counts.waiting),
              String(a.counts.active),
              String(a.counts.closed),
              String(a.counts.archived),
              duration(a.longest_wait_seconds),
              duration(a.average_wait_seconds),
            ]),
          ),
          "",
          q.enquiries.length
            ? table(
                ["ENQUIRY", "AGENCY", "STATE", "TOPIC", "LANGUAGE", "WAITING", "COUNSELLOR"],
                q.enquiries.map((e) => [
                  String(e.id),
                  String(e.agency_id),
                  e.state,
                  e.topic_id,
                  e.language,
                  duration(e.waiting_seconds),
                  e.counsellor_id ?? "-",
                ]),
              )
            : `no ${state} enquiries`,
        ].join("\n"),
      );
    },
  },
};

function helpText(): string {
  return [
    "connecta-admin: manage topics, agencies, counsellors, retention; inspect queues and the security event log; answer data-protection requests (see docs/operators.md)",
    "",
    "usage: npm run admin -- <command> [options]",
    "",
    "commands:",
    ...Object.values(COMMANDS).map((c) => `  ${c.usage}`),
    "  help",
    "",
    "options of every command:",
    "  --url <url>          application service [CONNECTA_ADMIN_URL, else appserviceUrl in <data dir>/stack.json]",
    "  --token-file <path>  operator token [<data dir>/secrets/operator.api_token]",
    "  --json               print the API's JSON answer",
    "<data dir> is CONNECTA_DATA_DIR or .data/ in the repository.",
  ].join("\n");
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const [first, second] = argv;
    if (first === undefined || first === "help" || first === "--help" || first === "-h") {
      process.stdout.write(`${helpText()}\n`);
      return 0;
    }
    const name = COMMANDS[first] ? first : `${first} ${second ?? ""}`;
    const command = COMMANDS[name];
    if (!command) throw usage(`unknown command "${name.trim()}"`);
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({
        args: argv.slice(name.split(" ").length),
        options: { ...GLOBAL_OPTIONS, ...command.options },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw usage(`${name}: ${(err as Error).message.split(". ")[0]}`);
    }
    const { values, positionals } = parsed;
    if (positionals.length !== command.args.length) {
      throw usage(`usage: connecta-admin ${command.usage}`);
    }
    const args = Object.fromEntries(command.args.map((arg, i) => [arg, positionals[i] ?? ""]));
    const request = createRequest(resolveUrl(str(values.url), env), readToken(str(values["token-file"]), env));
    const out = (json: unknown, text: () => string) => {
      process.stdout.write(`${values.json ? JSON.stringify(json, null, 2) : text()}\n`);
    };
    await command.run({ request, args, opts: values, out });
    return 0;
  } catch (err) {
    const message = err instanceof CliError ? err.message : `unexpected error: ${String(err)}`;
    process.stderr.write(`connecta-admin: ${message.replace(/\s+/g, " ")}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
