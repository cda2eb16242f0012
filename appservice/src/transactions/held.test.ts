import { describe, expect, it } from "vitest";
import { OwedTransaction, untilDatabaseAnswers } from "./held.ts";

describe("OwedTransaction", () => {
  it("admits everything while nothing failed", () => {
    const owed = new OwedTransaction(1_000);
    expect([owed.admit("1", 0), owed.admit("2", 0)]).toEqual(["yes", "yes"]);
  });

  it("after a failure admits only that transaction until it is done", () => {
    const owed = new OwedTransaction(1_000);
    owed.failed("7");
    expect(owed.admit("8", 0)).toBe("no");
    expect(owed.admit("7", 10)).toBe("yes");
    owed.done("7");
    expect(owed.admit("8", 20)).toBe("yes");
  });

  it("keeps the oldest failure owed, and is not cleared by another transaction", () => {
    const owed = new OwedTransaction(1_000);
    owed.failed("7");
    owed.failed("9");
    owed.done("9");
    expect(owed.owed).toBe("7");
    expect(owed.admit("9", 0)).toBe("no");
  });

  it("gives the owed transaction up once it has refused others for its time, counted from the first refusal", () => {
    const owed = new OwedTransaction(1_000);
    owed.failed("7");
    expect(owed.admit("8", 5_000)).toBe("no");
    expect(owed.admit("8", 5_999)).toBe("no");
    expect(owed.admit("8", 6_000)).toBe("gave up");
    expect(owed.owed).toBeNull();
    expect(owed.admit("9", 6_001)).toBe("yes");
    // A later failure starts its own time.
    owed.failed("9");
    expect(owed.admit("10", 9_000)).toBe("no");
  });
});

describe("untilDatabaseAnswers", () => {
  const failure = (code?: string) => Object.assign(new Error("failed"), code ? { code } : {});

  it("runs the work again while the database failed, until it succeeds", async () => {
    const errors = [failure("57P01"), failure()];
    let runs = 0;
    const result = await untilDatabaseAnswers(
      async () => {
        runs++;
        const err = errors.shift();
        if (err) throw err;
        return "done";
      },
      async () => false, // the second error has no SQLSTATE: the database does not answer either
      10_000,
    );
    expect({ result, runs }).toEqual({ result: "done", runs: 3 });
  });

  it("throws at once an error that is not the database's, while the database answers", async () => {
    let runs = 0;
    const bug = new TypeError("a bug");
    const data = failure("22021");
    for (const err of [bug, data]) {
      await expect(
        untilDatabaseAnswers(
          async () => {
            runs++;
            throw err;
          },
          async () => true,
          10_000,
        ),
      ).rejects.toBe(err);
    }
    expect(runs).toBe(2);
  });

  it("throws the last error once its time is up", async () => {
    let runs = 0;
    const err = failure("08006");
    await expect(
      untilDatabaseAnswers(
        async () => {
          runs++;
          throw err;
        },
        async () => false,
        600,
      ),
    ).rejects.toBe(err);
    expect(runs).toBeGreaterThan(1);
  });
});
