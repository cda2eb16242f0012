import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { clientTypes, CLIENT_TYPES_FILE, describeApi } from "./contract.ts";
import { Api } from "./http/api.ts";

/** The OpenAPI document of one GET route answering `response`. */
function oneRoute(response: z.ZodType): Record<string, unknown> {
  const api = new Api(() => Promise.resolve(null));
  api.add({
    method: "get",
    path: "/api/v1/things/{thingId}",
    summary: "A thing",
    tag: "test",
    auth: "none",
    params: z.strictObject({ thingId: z.coerce.number().int() }),
    query: z.strictObject({ limit: z.coerce.number().optional() }),
    response,
    errors: [],
    handler: () => Promise.resolve({}),
  });
  return api.openapi({ title: "t", version: "1" });
}

describe("the client's copy of the API contract", () => {
  it("is what the routes say today", async () => {
    const committed = readFileSync(CLIENT_TYPES_FILE, "utf8");
    expect(committed, "regenerate: npm run api:contract").toBe(await clientTypes(describeApi()));
  });

  it("changes with a route's answer, so a changed schema without regenerated types fails the test above", async () => {
    const before = await clientTypes(oneRoute(z.object({ name: z.string() })));
    const after = await clientTypes(oneRoute(z.object({ name: z.string(), size: z.number().nullable() })));
    expect(before).not.toBe(after);
    expect(after).toContain("size: number | null;");
  });

  it("types parameters, optional fields, enums, named schemas and unions", async () => {
    const Named = z.object({ kind: z.enum(["a", "b"]), note: z.string().optional() }).meta({ id: "Named" });
    const text = await clientTypes(oneRoute(z.object({ items: z.array(Named), either: z.union([Named, z.null()]) })));
    expect(text).toContain('"GET /api/v1/things/{thingId}": {');
    expect(text).toMatch(/params: \{\s+thingId: number;\s+\};/);
    expect(text).toMatch(/query: \{\s+limit\?: number;\s+\};/);
    expect(text).toMatch(/Named: \{\s+kind: "a" \| "b";\s+note\?: string;\s+\};/);
    expect(text).toContain('items: Schemas["Named"][];');
    expect(text).toContain('either: Schemas["Named"] | null;');
  });
});

describe("the OpenAPI document", () => {
  it("keeps named schemas in components, where its references point", () => {
    const doc = JSON.stringify(describeApi());
    expect(doc).not.toContain("$defs");
    const refs = [...doc.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    const schemas = Object.keys((describeApi().components as { schemas: object }).schemas);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(schemas).toContain(ref);
  });
});
