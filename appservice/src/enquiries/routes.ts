/**
 * HTTP routes of the counselling workflow (see workflow.ts).
 */
import { z } from "zod";
import type { Api } from "../http/api.ts";
import { EnquiryParams, EnquirySummary, QueueItem } from "./schemas.ts";
import type { Workflow } from "./workflow.ts";

/** Adds the enquiry routes. */
export function enquiryRoutes(api: Api, workflow: Workflow): void {
  api.add({
    method: "get",
    path: "/api/v1/queue",
    summary: "Waiting enquiries of the caller's agencies, oldest first",
    tag: "counselling",
    auth: "user",
    query: z.strictObject({
      limit: z.coerce.number().int().min(1).max(200).default(100),
      agency_id: z.coerce.number().int().positive().optional(),
    }),
    response: z.object({ enquiries: z.array(QueueItem) }),
    errors: ["M_FORBIDDEN"],
    handler: ({ userId, query }) => workflow.queue(String(userId), { limit: query.limit, agencyId: query.agency_id }),
  });

  api.add({
    method: "get",
    path: "/api/v1/enquiries",
    summary: "The caller's enquiries: a seeker's own, or a counsellor's assigned ones",
    tag: "counselling",
    auth: "user",
    response: z.object({ enquiries: z.array(EnquirySummary) }),
    errors: [],
    handler: ({ userId }) => workflow.mine(String(userId)),
  });

  api.add({
    method: "post",
    path: "/api/v1/enquiries/{enquiryId}/claim",
    summary: "Take a waiting enquiry; of many counsellors racing, exactly one wins",
    tag: "counselling",
    auth: "user",
    params: EnquiryParams,
    body: z.strictObject({}),
    response: EnquirySummary,
    errors: ["M_NOT_FOUND", "CONNECTA_ALREADY_TAKEN", "CONNECTA_WRONG_STATE"],
    brake: "enquiry-action",
    handler: ({ userId, params }) => workflow.claim(String(userId), params.enquiryId),
  });

  api.add({
    method: "post",
    path: "/api/v1/enquiries/{enquiryId}/handover",
    summary:
      "Hand an active enquiry to another counsellor of the agency (by the assigned counsellor or a team lead). " +
      "The handing-over counsellor's client first invites the new counsellor and shares the room-key history " +
      "(MSC4268); this call then makes the new counsellor responsible and removes the old one from the room.",
    tag: "counselling",
    auth: "user",
    params: EnquiryParams,
    body: z.strictObject({
      counsellor_id: z
        .string()
        .min(3)
        .max(255)
        .regex(/^@[^:\s]+:\S+$/, "expected a Matrix user id"),
    }),
    response: EnquirySummary,
    errors: ["M_NOT_FOUND", "M_FORBIDDEN", "CONNECTA_WRONG_STATE"],
    brake: "enquiry-action",
    handler: ({ userId, params, body }) => workflow.handover(String(userId), params.enquiryId, body.counsellor_id),
  });

  api.add({
    method: "post",
    path: "/api/v1/enquiries/{enquiryId}/close",
    summary: "Close an active enquiry (assigned counsellor or team lead); the room becomes read-only",
    tag: "counselling",
    auth: "user",
    params: EnquiryParams,
    body: z.strictObject({}),
    response: EnquirySummary,
    errors: ["M_NOT_FOUND", "M_FORBIDDEN", "CONNECTA_WRONG_STATE"],
    brake: "enquiry-action",
    handler: ({ userId, params }) => workflow.close(String(userId), params.enquiryId),
  });

  api.add({
    method: "post",
    path: "/api/v1/enquiries/{enquiryId}/reopen",
    summary: "The seeker reopens their closed enquiry within the reopening window",
    tag: "counselling",
    auth: "user",
    params: EnquiryParams,
    body: z.strictObject({}),
    response: EnquirySummary,
    errors: ["M_NOT_FOUND", "CONNECTA_WRONG_STATE"],
    brake: "enquiry-action",
    handler: ({ userId, params }) => workflow.reopen(String(userId), params.enquiryId),
  });
}
