// The counsellor's workspace state, shared by the layout of the counsellors' pages (the list
// beside the open conversation) and the pages in it: the waiting enquiries of their agencies and
// their own conversations from our API, each room's overview (preview, unread count, waiting
// time) decrypted in the Matrix worker. Kept up to date from the Matrix sync and a look at the
// API every 15 s; tells `onNews` when an unread message or a new enquiry comes in.
import { getContext, setContext } from "svelte";
import { api, send, type Answer } from "../api/connecta.ts";
import { connect, type Matrix } from "../matrix/remote.ts";
import type { RoomOverview } from "../matrix/conversation.ts";
import type { Session } from "../session/session.ts";
import { byNeed, type Entry } from "./entries.ts";

export type QueueItem = Answer<"GET /api/v1/queue">["enquiries"][number];
export type Enquiry = Answer<"GET /api/v1/enquiries">["enquiries"][number];
type Me = Extract<Answer<"GET /api/v1/me">, { role: "counsellor" }>;
type Topic = Answer<"GET /api/v1/topics">["topics"][number];

/** One of the counsellor's conversations with what its room tells of it. */
export interface Conversation extends Entry {
  enquiry: Enquiry;
  overview: RoomOverview | undefined;
}

const POLL_MS = 15_000;
const KEY = Symbol("workspace");

export class Workspace {
  session = $state<Session | null>(null);
  matrix = $state<Matrix | null>(null);
  me = $state<Me | null>(null);
  topics = $state<Record<string, Topic>>({});
  // Replaced whole, never changed in place (raw: no deep proxies to track).
  queue = $state.raw<QueueItem[]>([]);
  /** The counsellor's active enquiries. */
  mine = $state.raw<Enquiry[]>([]);
  overviews = $state.raw<Record<string, RoomOverview>>({});
  loaded = $state(false);
  problem = $state<string | null>(null);
  /** The enquiry open beside the list: what comes in there while the tab is seen is no news. */
  open: number | null = null;

  /** The counsellor's conversations, the longest unanswered first (entries.ts). */
  conversations: Conversation[] = $derived(this.mine.map((enquiry) => this.#conversation(enquiry)).sort(byNeed));
  /**
   * Each conversation as last made, with what it was made of (as JSON): an entry of the list
   * is drawn again only when its own enquiry or room changed, not when any of them did.
   */
  #made: Record<number, { of: string; conversation: Conversation }> = {};
  /** Unread messages in all the counsellor's conversations. */
  unread = $derived(this.conversations.reduce((sum, c) => sum + c.unread, 0));

  /** Called when an unread message or a new waiting enquiry comes in (not on the first load). */
  onNews: (() => void) | null = null;

  #stopWatching: (() => void) | null = null;
  #poll: ReturnType<typeof setInterval> | undefined;
  #recheck: ReturnType<typeof setTimeout> | undefined;
  #seen: { unread: number; queue: number[] } | null = null;
  /** What the page was last given of each, as JSON (see {@link changed}). */
  #shown: Record<string, string> = {};

  /** Loads everything and starts following changes. */
  async start(session: Session): Promise<void> {
    this.session = session;
    this.#poll = setInterval(() => void this.refresh(), POLL_MS);
    try {
      const [answer, topicList] = await Promise.all([api(session, "GET /api/v1/me"), send("GET /api/v1/topics", {})]);
      if (answer.role !== "counsellor" || topicList.status !== 200) throw new Error("no counsellor's workspace");
      this.me = answer;
      const { topics } = topicList.body as Answer<"GET /api/v1/topics">;
      this.topics = Object.fromEntries(topics.map((t) => [t.id, t]));
      const matrix = await connect(session);
      this.matrix = matrix;
      this.#stopWatching = await matrix.watch(
        "watchRooms",
        "unwatch",
        () => void this.overviewAll(),
        () => void this.refresh(),
      );
      await this.refresh();
    } catch {
      this.problem = "loadFailed";
    }
  }

  stop(): void {
    clearInterval(this.#poll);
    clearTimeout(this.#recheck);
    this.#stopWatching?.();
  }

  /**
   * Asks our API for the queue and the counsellor's enquiries, joins their rooms, then looks at
   * the rooms. One at a time: whoever asks meanwhile (an invite coming in for each of dozens of
   * rooms as the first sync arrives) shares the one run after it.
   */
  refresh = coalesced(() => this.#refresh());

  async #refresh(): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      const [q, m] = await Promise.all([api(session, "GET /api/v1/queue"), api(session, "GET /api/v1/enquiries")]);
      if (changed(this.#shown, "queue", q.enquiries)) this.queue = q.enquiries;
      const mine = m.enquiries.filter((e) => e.state === "active");
      if (changed(this.#shown, "mine", mine)) this.mine = mine;
      this.problem = null;
      try {
        await this.matrix?.call(
          "joinInvited",
          this.rooms().map((r) => r.roomId),
          0,
        );
        await this.overviewAll();
      } finally {
        // The list comes with its rooms' overviews, not before them: its entries would grow
        // under the reader's eyes as unread counts and waiting times came in (layout shift).
        this.loaded = true;
      }
    } catch {
      this.problem = "loadFailed";
    }
  }

  /** The rooms of the queue and of the counsellor's enquiries, with their seekers' user ids. */
  rooms(): { roomId: string; seekerId?: string }[] {
    // Seekers are users of the counsellor's own homeserver; their pseudonym is their localpart.
    const domain = this.session?.userId.slice(this.session.userId.indexOf(":") + 1);
    const seekerId = (pseudonym: string | null): { seekerId?: string } =>
      pseudonym && domain ? { seekerId: `@${pseudonym}:${domain}` } : {};
    return [
      ...this.queue.map((q) => ({ roomId: q.room_id, ...seekerId(q.pseudonym) })),
      ...this.mine.flatMap((e) => (e.room_id ? [{ roomId: e.room_id, ...seekerId(e.pseudonym) }] : [])),
    ];
  }

  /** Asks the worker for every room's overview (decrypted there); one at a time, like {@link refresh}. */
  overviewAll = coalesced(() => this.#overviewAll());

  async #overviewAll(): Promise<void> {
    if (!this.matrix) return;
    const next = await this.matrix.call("roomOverviews", this.rooms()).catch(() => null);
    if (!next) return;
    // The worker answers after every sync and decryption attempt, mostly with what is shown
    // already: only a change is given to the page, whose whole list would be drawn again.
    if (changed(this.#shown, "overviews", next)) this.overviews = next;
    this.#notice();
    // A first message still being decrypted is shown as unreadable once its key can no longer
    // be expected (conversation.ts, KEY_GRACE_MS): look again soon rather than at the next poll.
    clearTimeout(this.#recheck);
    if (Object.values(next).some((o) => o.first?.kind === "decrypting" || o.last?.kind === "decrypting")) {
      this.#recheck = setTimeout(() => void this.overviewAll(), 5000);
    }
  }

  #conversation(enquiry: Enquiry): Conversation {
    const overview = enquiry.room_id ? this.overviews[enquiry.room_id] : undefined;
    const of = JSON.stringify([enquiry, overview]);
    const made = this.#made[enquiry.enquiry_id];
    if (made?.of === of) return made.conversation;
    const conversation = {
      enquiry,
      overview,
      enquiryId: enquiry.enquiry_id,
      pseudonym: enquiry.pseudonym,
      waitingSince: overview?.waitingSince ?? null,
      unread: overview?.unread ?? 0,
      lastActivity: overview?.lastActivity ?? null,
    };
    this.#made[enquiry.enquiry_id] = { of, conversation };
    return conversation;
  }

  /** Tells `onNews` when the unread count grew or an enquiry joined the queue since the last look. */
  #notice(): void {
    if (!this.loaded) return;
    const seen = (c: Conversation): boolean => c.enquiryId === this.open && document.visibilityState === "visible";
    const unread = this.conversations.reduce((sum, c) => sum + (seen(c) ? 0 : c.unread), 0);
    const now = { unread, queue: this.queue.map((q) => q.enquiry_id) };
    const before = this.#seen;
    this.#seen = now;
    if (!before) return;
    if (now.unread > before.unread || now.queue.some((id) => !before.queue.includes(id))) this.onNews?.();
  }
}

/** Whether `value` differs from what `shown[key]` recorded (as JSON); records it if so. */
function changed(shown: Record<string, string>, key: string, value: unknown): boolean {
  const json = JSON.stringify(value);
  if (shown[key] === json) return false;
  shown[key] = json;
  return true;
}

/**
 * `run`, made to run once at a time: calls while it runs share one more run after it (and its
 * promise), so that each caller sees a run that started after its call.
 */
function coalesced(run: () => Promise<void>): () => Promise<void> {
  let current: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const start = (): Promise<void> => (current = run().finally(() => (current = null)));
  return () => {
    if (!current) return start();
    next ??= current
      .catch(() => {})
      .then(() => {
        next = null;
        return start();
      });
    return next;
  };
}

/** Makes `workspace` the one the pages below the calling component use. */
export function provideWorkspace(workspace: Workspace): void {
  setContext(KEY, workspace);
}

/** The workspace of the layout around the calling page, or null outside it. */
export function useWorkspace(): Workspace | null {
  return getContext<Workspace | undefined>(KEY) ?? null;
}
