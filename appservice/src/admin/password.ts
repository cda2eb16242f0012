/**
 * Initial passwords of counsellor accounts: random, easy to read out and type (no 0/O, 1/l/I),
 * about 99 bits of entropy. Shown once to the operator, never logged or stored by us.
 */
import { randomInt } from "node:crypto";

const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

/** A new initial password: four groups of five characters, e.g. `k7mq2-x9pr4-...`. */
export function initialPassword(): string {
  const group = () => Array.from({ length: 5 }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
  return [group(), group(), group(), group()].join("-");
}
