/**
 * What enquiry rooms say, kept out of the workflow's logic: their names and topics and the reasons
 * people read when someone is taken out of one (German, like the rest of the room). Refusals are
 * worded by their two audiences: the HTTP API (refusal.ts) and the control room (control/texts.ts).
 */

/** Why someone is taken out of an enquiry room, as the room shows it to its members. */
export const REMOVAL_TEXTS = {
  /** A colleague claimed the waiting enquiry. */
  claimed: "Die Anfrage wurde übernommen",
  /** The enquiry was handed over to a colleague. */
  handed_over: "Die Anfrage wurde übergeben",
  /** The seeker reopened it and its counsellor no longer counsels for the agency. */
  requeued: "Die Anfrage wartet auf eine neue Beratung",
  /** The seeker reopened it, back to its counsellor: nobody else stays. */
  reopened: "Die Anfrage wurde wieder geöffnet",
  /** The counsellor left the enquiry's agency (moved, removed or deactivated). */
  left_agency: "Nicht mehr in der Beratungsstelle dieser Anfrage",
  /** An invite that nobody may give was taken back. */
  uninvited: "Only the workflow invites to counselling rooms",
} as const;

/** One of {@link REMOVAL_TEXTS}. */
export type RemovalReason = keyof typeof REMOVAL_TEXTS;

const AGE_LABEL: Record<string, string> = {
  under_18: "unter 18",
  "18_26": "18–26",
  "27_49": "27–49",
  "50_64": "50–64",
  "65_plus": "65+",
  unknown: "keine Angabe",
};

/** The name of an enquiry room, as counsellors see it in their room list. */
export function roomName(enquiryId: number, topicName: string): string {
  return `Anfrage #${enquiryId} · ${topicName}`;
}

/**
 * The name of an enquiry's case-notes room, as its counsellor sees it in Element: which enquiry,
 * nothing of what the notes say.
 */
export function notesRoomName(enquiryId: number): string {
  return `Notizen zu Anfrage #${enquiryId}`;
}

/** The topic of a case-notes room: what it is for and who reads it. */
export const NOTES_TOPIC =
  "Private Notizen der Beratung, Ende-zu-Ende verschlüsselt. Nur die zuständige Beratung liest sie, " +
  "bei einer Übergabe auch die Kollegin oder der Kollege; die ratsuchende Person nie.";

/** The topic of an enquiry room: what the enquiry is about, never who asks. */
export function roomTopic(e: { topicName: string; language: string; ageGroup: string }): string {
  return (
    `Anonyme Online-Beratung, Ende-zu-Ende verschlüsselt. Thema: ${e.topicName}; ` +
    `Sprache: ${e.language}; Alter: ${AGE_LABEL[e.ageGroup] ?? e.ageGroup}.`
  );
}
