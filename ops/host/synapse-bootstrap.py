"""Makes the application service's bot a Synapse server admin, after every start of Synapse on
a host (ExecStartPost of connecta-synapse.service, so before the application service starts).

The bot mints registration tokens and creates counsellors through Synapse's admin API. As in the
local stack (ops/stack/synapse.ts), it registers through the application service API (an
existing bot answers M_USER_IN_USE) and the admin flag is set in Synapse's database, the way
Synapse's documentation gives for a first admin: no shared-secret registration is left open.
Synapse caches the flag per user; this runs before anyone asks for it.

Usage: python synapse-bootstrap.py HOMESERVER_YAML REGISTRATION_YAML SYNAPSE_URL
Runs with Synapse's own Python (PyYAML, psycopg2); the database settings and the password file
are homeserver.yaml's.
"""

import json
import sys
import urllib.error
import urllib.request

import psycopg2
import yaml


def register(url: str, as_token: str, localpart: str) -> None:
    body = {"type": "m.login.application_service", "username": localpart, "inhibit_login": True}
    request = urllib.request.Request(
        f"{url}/_matrix/client/v3/register",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {as_token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        urllib.request.urlopen(request, timeout=60).close()
    except urllib.error.HTTPError as err:
        answer = json.load(err)
        if answer.get("errcode") != "M_USER_IN_USE":
            sys.exit(f"synapse-bootstrap: registering the bot failed: {err.code} {answer}")


def make_admin(database: dict, user_id: str) -> None:
    args = database["args"]
    connection = psycopg2.connect(
        host=args["host"],
        port=args["port"],
        dbname=args["dbname"],
        user=args["user"],
        passfile=args["passfile"],
    )
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute("UPDATE users SET admin = 1 WHERE name = %s", (user_id,))
            if cursor.rowcount != 1:
                sys.exit(f"synapse-bootstrap: Synapse does not know {user_id}")
    finally:
        connection.close()


def main(homeserver_path: str, registration_path: str, url: str) -> None:
    with open(homeserver_path) as f:
        homeserver = yaml.safe_load(f)
    with open(registration_path) as f:
        registration = yaml.safe_load(f)
    localpart = registration["sender_localpart"]
    register(url.rstrip("/"), registration["as_token"], localpart)
    make_admin(homeserver["database"], f"@{localpart}:{homeserver['server_name']}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
