import { describe, expect, it } from "vitest";
import { deviceProblem } from "./media.ts";

/** An error as getUserMedia rejects with it. */
const failure = (name: string, message = ""): Error => Object.assign(new Error(message), { name });

describe("deviceProblem", () => {
  it("tells a refused permission from a missing or busy device", () => {
    expect(deviceProblem(failure("NotAllowedError", "Permission denied"))).toBe("denied");
    expect(deviceProblem(failure("NotFoundError", "Requested device not found"))).toBe("missing");
    expect(deviceProblem(failure("NotReadableError", "Could not start video source"))).toBe("busy");
    expect(deviceProblem(new Error("something else"))).toBe("failed");
  });
});
