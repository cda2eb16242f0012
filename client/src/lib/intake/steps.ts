/**
 * The steps of a seeker's way in, counted the way the seeker meets them: 1 topic, 2 pseudonym
 * and password (/anfrage), 3 passphrase, 4 recovery key (/schluessel), 5 the first message
 * (/gespraech), which is when the enquiry really arrives. One number, so that no page promises
 * fewer steps than there are.
 */
export const INTAKE_STEPS = 5;

/** The step of each screen of the way in. */
export const STEP = { about: 1, account: 2, passphrase: 3, recoveryKey: 4, firstMessage: 5 } as const;
