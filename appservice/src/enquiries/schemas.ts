/**
 * Schemas of the enquiry API's answers and parameters.
 */
import { z } from "zod";

export const EnquiryParams = z.strictObject({
  enquiryId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

/** The seeker's pseudonym (their Matrix localpart); null once their account is gone. */
const Pseudonym = z
  .string()
  .nullable()
  .describe("The seeker's pseudonym (Matrix localpart); null once their account is gone");

export const QueueItem = z.object({
  enquiry_id: z.number().int(),
  room_id: z.string(),
  agency_id: z.number().int(),
  agency_name: z.string(),
  pseudonym: Pseudonym,
  topic: z.string(),
  language: z.string(),
  age_group: z.string(),
  waiting_since: z.string().describe("ISO 8601"),
  waiting_seconds: z.number().int(),
});

export const EnquirySummary = z.object({
  enquiry_id: z.number().int(),
  room_id: z.string().nullable(),
  notes_room_id: z
    .string()
    .nullable()
    .describe(
      "The case-notes room (private notes of the counsellors, end-to-end encrypted): only for the assigned " +
        "counsellor, once the room exists; else null",
    ),
  state: z.string(),
  agency_id: z.number().int(),
  agency_name: z.string(),
  topic: z.string(),
  language: z.string(),
  age_group: z.string(),
  pseudonym: Pseudonym,
  created_at: z.string().describe("When the enquiry was made (ISO 8601)"),
  counsellor_id: z.string().nullable(),
  counsellor_absence: z
    .object({
      message: z.string().nullable().describe("The counsellor's absence notice; null when they left none"),
    })
    .nullable()
    .describe("Set while the assigned counsellor is absent (PUT /api/v1/me/absence), else null"),
  deletion_at: z
    .string()
    .describe(
      "When the conversation will be deleted under its agency's retention periods, as things stand " +
        "(later activity moves it; ISO 8601)",
    ),
  reopen_until: z
    .string()
    .nullable()
    .describe("While closed: until when the seeker may reopen it (CONNECTA_REOPEN_WINDOW_DAYS; ISO 8601), else null"),
  reopen_window_days: z
    .number()
    .int()
    .describe("For how many days after a close the seeker may reopen (the same for all)"),
});
