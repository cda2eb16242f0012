-- A done step keeps no payload (appservice/src/steps/steps.ts): the user ids and removal reasons
-- of invites, kicks and power levels are personal data the outbox needs only until the step is
-- done. Steps done before this migration are cleared here; the check keeps it so from now on.
UPDATE matrix_steps SET payload = '{}' WHERE done_at IS NOT NULL AND payload <> '{}';
ALTER TABLE matrix_steps ADD CONSTRAINT matrix_steps_done_without_payload CHECK (done_at IS NULL OR payload = '{}');
