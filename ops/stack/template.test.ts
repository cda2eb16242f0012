import { describe, expect, it } from "vitest";
import { renderTemplate } from "./template.ts";

describe("renderTemplate", () => {
  it("replaces every placeholder with its value", () => {
    expect(renderTemplate("port: {{PORT}}\nhost: {{HOST}} {{PORT}}", { PORT: 8008, HOST: "a" })).toBe(
      "port: 8008\nhost: a 8008",
    );
  });
  it("refuses a placeholder without a value", () => {
    expect(() => renderTemplate("{{MISSING}}", {})).toThrow("{{MISSING}}");
  });
  it("refuses a value that the template does not use", () => {
    expect(() => renderTemplate("x", { EXTRA: 1 })).toThrow("EXTRA");
  });
});
