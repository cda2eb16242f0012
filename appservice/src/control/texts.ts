/**
 * What the control room says, in German and English (a counsellor's `language`). Plain, short
 * and kind: a refusal says what happened and what to do instead.
 */
import type { Language } from "../domain.ts";
import type { CommandWithArgs } from "./commands.ts";

/** One line of the queue as the control room shows it. */
export interface QueueLine {
  enquiryId: number;
  topic: string;
  waitingSeconds: number;
}

/** Everything the control room says. */
export interface Texts {
  welcome: string;
  help: string;
  queue(lines: QueueLine[], limit: number): string;
  taken(enquiryId: number): string;
  handedOver(enquiryId: number, to: string): string;
  closed(enquiryId: number, reopenWindowDays: number): string;
  /** The seeker deleted their account: the conversation is being deleted (content-free). */
  erased(enquiryId: number): string;
  usage(command: CommandWithArgs): string;
  unknown(word: string): string;
  /** The enquiry does not exist or belongs to another agency (`no_such_enquiry`). */
  notFound(enquiryId: number): string;
  /** A colleague was quicker (`already_taken`). */
  alreadyTaken(enquiryId: number): string;
  /** The enquiry is in a state that does not allow this (`wrong_state`). */
  wrongState(command: CommandWithArgs, enquiryId: number): string;
  /** Only the assigned counsellor or a team lead may do this (`not_assigned`). */
  notYours(command: CommandWithArgs, enquiryId: number): string;
  /** The caller has no agency (any longer) (`not_a_counsellor`, `deactivated`). */
  noAgency: string;
  /** The colleague named in a handover is not a counsellor of this agency (`not_a_colleague`). */
  notAColleague(userId: string): string;
  /** Anything else: our fault, try again. */
  failed: string;
}

/** A waiting time in whole minutes, hours or days. */
export function formatWaiting(seconds: number, language: Language): string {
  const minutes = Math.max(0, Math.floor(seconds / 60));
  const [n, unit] =
    minutes < 60 ? [minutes, 0] : minutes < 48 * 60 ? [Math.floor(minutes / 60), 1] : [Math.floor(minutes / 1440), 2];
  if (language === "en") {
    if (n === 0) return "less than a minute";
    const word = ["minute", "hour", "day"][unit];
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }
  if (n === 0) return "weniger als einer Minute";
  const word = n === 1 ? ["Minute", "Stunde", "Tag"][unit] : ["Minuten", "Stunden", "Tagen"][unit];
  return `${n} ${word}`;
}

const EXAMPLE: Record<CommandWithArgs, string> = {
  take: "take 12",
  handover: "handover 12 @kollegin:server",
  close: "close 12",
};

const de: Texts = {
  welcome:
    "Willkommen in Ihrem Steuerungsraum. Hier sprechen Sie mit Connecta, nicht mit Ratsuchenden: " +
    "dieser Raum ist nicht verschlüsselt, schreiben Sie hier bitte nichts über Ratsuchende.\n\n",
  help: [
    "Das können Sie hier schreiben:",
    "queue – die wartenden Anfragen Ihrer Beratungsstellen",
    "take 12 – Anfrage #12 übernehmen",
    "handover 12 @name:server – Anfrage #12 an eine Kollegin oder einen Kollegen übergeben",
    "close 12 – Anfrage #12 abschließen",
    "help – diese Übersicht",
  ].join("\n"),
  queue: (lines, limit) =>
    lines.length === 0
      ? "Im Moment wartet keine Anfrage."
      : [
          lines.length >= limit ? `Die ${limit} am längsten wartenden Anfragen:` : `Wartende Anfragen: ${lines.length}`,
          ...lines.map((l) => `#${l.enquiryId} · ${l.topic} · wartet seit ${formatWaiting(l.waitingSeconds, "de")}`),
          "Zum Übernehmen schreiben Sie zum Beispiel: take " + String(lines[0]?.enquiryId ?? 12),
        ].join("\n"),
  taken: (id) => `Anfrage #${id} gehört jetzt zu Ihnen. Sie finden sie in Ihrer Raumliste.`,
  handedOver: (id, to) => `Anfrage #${id} ist an ${to} übergeben. Danke!`,
  closed: (id, days) =>
    `Anfrage #${id} ist abgeschlossen. Die ratsuchende Person kann sie noch ${days} Tage lang wieder öffnen.`,
  erased: (id) =>
    `Die ratsuchende Person von Anfrage #${id} hat ihr Konto gelöscht. ` +
    "Das Gespräch wird deshalb jetzt gelöscht und ist gleich nicht mehr zu sehen.",
  usage: (command) => `Dafür brauche ich etwas mehr Angaben. Schreiben Sie zum Beispiel: ${EXAMPLE[command]}`,
  unknown: (word) => `„${word}“ kenne ich leider nicht. Mit help sehen Sie, was Sie hier schreiben können.`,
  notFound: (id) => `Ich finde keine Anfrage #${id} in Ihren Beratungsstellen. Stimmt die Nummer?`,
  alreadyTaken: (id) =>
    `Anfrage #${id} hat schon eine Kollegin oder ein Kollege übernommen. Mit queue sehen Sie, wer noch wartet.`,
  wrongState: (command, id) =>
    command === "take"
      ? `Anfrage #${id} wartet nicht (mehr) und kann daher nicht übernommen werden.`
      : `Anfrage #${id} ist gerade nicht in Beratung, daher geht das nicht.`,
  notYours: (command, id) =>
    `Anfrage #${id} ${command === "close" ? "abschließen" : "übergeben"} kann nur, wer sie gerade berät, ` +
    "oder eine Teamleitung.",
  noAgency: "Sie gehören im Moment zu keiner Beratungsstelle. Bitte wenden Sie sich an Ihre Administration.",
  notAColleague: (user) => `${user} berät nicht in der Beratungsstelle dieser Anfrage. Bitte prüfen Sie den Namen.`,
  failed: "Das hat gerade nicht geklappt, der Fehler liegt bei uns. Bitte versuchen Sie es gleich noch einmal.",
};

const en: Texts = {
  welcome:
    "Welcome to your control room. Here you talk to Connecta, not to advice seekers: this room is not " +
    "encrypted, so please do not write anything about advice seekers here.\n\n",
  help: [
    "Here is what you can write:",
    "queue – the waiting enquiries of your agencies",
    "take 12 – take enquiry #12",
    "handover 12 @name:server – hand enquiry #12 over to a colleague",
    "close 12 – close enquiry #12",
    "help – this overview",
  ].join("\n"),
  queue: (lines, limit) =>
    lines.length === 0
      ? "No enquiry is waiting right now."
      : [
          lines.length >= limit ? `The ${limit} enquiries waiting longest:` : `Waiting enquiries: ${lines.length}`,
          ...lines.map((l) => `#${l.enquiryId} · ${l.topic} · waiting for ${formatWaiting(l.waitingSeconds, "en")}`),
          "To take one, write for example: take " + String(lines[0]?.enquiryId ?? 12),
        ].join("\n"),
  taken: (id) => `Enquiry #${id} is yours now. You will find it in your room list.`,
  handedOver: (id, to) => `Enquiry #${id} has been handed over to ${to}. Thank you!`,
  closed: (id, days) => `Enquiry #${id} is closed. The advice seeker can reopen it within ${days} days.`,
  erased: (id) =>
    `The advice seeker of enquiry #${id} has deleted their account. ` +
    "The conversation is therefore being deleted now and will disappear in a moment.",
  usage: (command) => `I need a little more for that. Write for example: ${EXAMPLE[command]}`,
  unknown: (word) => `Sorry, I don't know "${word}". Write help to see what you can write here.`,
  notFound: (id) => `I can't find enquiry #${id} in your agencies. Is the number right?`,
  alreadyTaken: (id) => `A colleague has already taken enquiry #${id}. Write queue to see who is still waiting.`,
  wrongState: (command, id) =>
    command === "take"
      ? `Enquiry #${id} is not waiting (any more), so it can't be taken.`
      : `Enquiry #${id} is not in counselling right now, so that is not possible.`,
  notYours: (command, id) =>
    `Only the counsellor of enquiry #${id} or a team lead can ${command === "close" ? "close" : "hand"} it` +
    `${command === "close" ? "" : " over"}.`,
  noAgency: "You don't belong to any agency at the moment. Please contact your administrator.",
  notAColleague: (user) => `${user} is not a counsellor of this enquiry's agency. Please check the name.`,
  failed: "That didn't work just now; the fault is ours. Please try again in a moment.",
};

/** The texts in a counsellor's language (German unless it is English). */
export function texts(language: string): Texts {
  return language === "en" ? en : de;
}
