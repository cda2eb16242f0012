-- Roles and databases of Synapse and the application service, run by psql at every start of
-- connecta-postgresql.service (ExecStartPost) as connecta_admin over the socket. Idempotent:
-- what exists is kept, the passwords are set again from the secrets (systemd credentials), so
-- a changed secret takes effect at the next start. Synapse needs UTF8 with C collation.
\set synapse_password `cat "$CREDENTIALS_DIRECTORY/postgres.synapse"`
\set connecta_password `cat "$CREDENTIALS_DIRECTORY/postgres.connecta"`
SELECT format('CREATE ROLE %I LOGIN', name) FROM unnest(ARRAY['synapse', 'connecta']) AS name
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) \gexec
ALTER ROLE synapse PASSWORD :'synapse_password';
ALTER ROLE connecta PASSWORD :'connecta_password';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING ''UTF8'' LC_COLLATE ''C'' LC_CTYPE ''C'' TEMPLATE template0', name, name)
  FROM unnest(ARRAY['synapse', 'connecta']) AS name
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = name) \gexec
