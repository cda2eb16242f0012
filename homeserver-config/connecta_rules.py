"""Connecta's rules for Synapse: nobody outside the counselling workflow gets into the homeserver.

Loaded through `modules:` in homeserver.yaml; ops/stack puts this folder on Synapse's PYTHONPATH.

1. Registration is bound to the intake. The application service mints every registration token
   as `<pseudonym>~<random>` (appservice/src/intake/intakes.ts). Whatever username a client asks
   for, the account gets the pseudonym of the token it spent, so a token cannot register
   `support`, `admin` or a counsellor look-alike. A token without a pseudonym registers nobody.
2. People do nothing the workflow does not need. Only the application service's users (its
   exclusive namespace `@connecta-.*`: the bot creates enquiry rooms, the server-notices user the
   counsellors' control rooms) create rooms, aliases or directory entries. Nobody else invites,
   except into an enquiry room, where the room's power levels let only the assigned counsellor
   invite (a colleague, at a handover). Nobody sends invites to e-mail addresses or phone numbers.
3. Uploads beyond an account's volume per time window are refused before a byte is stored.
   Synapse checks its own `media_upload_limits` only after writing the file, and keeps the file
   on disk when it refuses it (1.163), so its limit alone would not stop anyone filling the disk.

Synapse does not ask before a server admin (the bot, the operator) creates a room or invites:
they are trusted like the application service. Aliases and directory entries stay refused even
to them.
"""

import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

from synapse.config._base import Config as SynapseConfig
from synapse.module_api import NOT_SPAM, LoggingTransaction, ModuleApi
from synapse.module_api.errors import Codes, ConfigError
from synapse.types import JsonDict, RoomAlias

logger = logging.getLogger(__name__)

# The pseudonym rules' alphabet and length (appservice/src/intake/pseudonym.ts). Synapse's token
# alphabet is A-Za-z0-9._~- , so `~` can only be our separator.
PSEUDONYM = re.compile(r"[a-z0-9._-]{3,30}")

# What a spam-checker callback answers: allowed, or refused with 403 and this code.
Verdict = Literal["NOT_SPAM"] | Codes


@dataclass(frozen=True)
class Config:
    """The module's settings (homeserver.yaml, `modules:`)."""

    # Full user ids of the application service's exclusive namespace.
    service_users: re.Pattern[str]
    # Type of the state event that marks an enquiry room (ENQUIRY_STATE_EVENT, appservice/src/domain.ts).
    enquiry_state_event: str
    # (time window in ms, bytes allowed in it) per account: Synapse's `media_upload_limits`.
    upload_limits: list[tuple[int, int]]


class ConnectaRules:
    """Registers the callbacks; see the module's docstring."""

    def __init__(self, config: Config, api: ModuleApi) -> None:
        self._config = config
        self._api = api
        api.register_password_auth_provider_callbacks(
            get_username_for_registration=self.username_for_registration,
        )
        api.register_spam_checker_callbacks(
            user_may_create_room=self.user_may_create_room,
            user_may_create_room_alias=self.user_may_create_room_alias,
            user_may_publish_room=self.user_may_publish_room,
            user_may_invite=self.user_may_invite,
            user_may_send_3pid_invite=self.user_may_send_3pid_invite,
        )
        api.register_media_repository_callbacks(
            is_user_allowed_to_upload_media_of_size=self.may_upload,
        )

    @staticmethod
    def parse_config(config: dict[str, Any]) -> Config:
        """Checks the settings at start-up, so that a typo stops Synapse instead of opening it."""
        users, marker = config.get("service_users"), config.get("enquiry_state_event")
        if not isinstance(users, str) or not users:
            raise ConfigError("service_users: expected the application service's user regex")
        if not isinstance(marker, str) or not marker:
            raise ConfigError("enquiry_state_event: expected an event type")
        limits = config.get("upload_limits")
        if not isinstance(limits, list) or not all(isinstance(limit, dict) for limit in limits):
            raise ConfigError("upload_limits: expected Synapse's media_upload_limits")
        try:
            return Config(
                service_users=re.compile(users),
                enquiry_state_event=marker,
                upload_limits=[
                    (SynapseConfig.parse_duration(limit["time_period"]), SynapseConfig.parse_size(limit["max_size"]))
                    for limit in limits
                ],
            )
        except re.error as e:
            raise ConfigError(f"service_users: not a regular expression: {e}") from e
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"upload_limits: expected time_period and max_size in each: {e}") from e

    def _is_service(self, user_id: str) -> bool:
        return self._config.service_users.fullmatch(user_id) is not None

    async def username_for_registration(self, uia_results: JsonDict, params: JsonDict) -> str | None:
        """The localpart of a new account: the pseudonym inside the registration token it spent.

        A token without a pseudonym answers "", the cleanest refusal Synapse allows here: its own
        username check refuses an empty localpart with 400 M_INVALID_USERNAME before anything is
        stored, and the token stays unspent. An exception would become a 500, and None would let
        the client's username through (or a generated numeric one).
        """
        token = uia_results.get("m.login.registration_token")
        pseudonym, separator, _ = token.partition("~") if isinstance(token, str) else ("", "", "")
        if separator and PSEUDONYM.fullmatch(pseudonym):
            return pseudonym
        logger.info("Refused a registration: its token carries no pseudonym")
        return ""

    async def user_may_create_room(self, user_id: str, room_config: JsonDict) -> Verdict:
        """Rooms are made by the workflow only: people cannot meet outside an enquiry."""
        return NOT_SPAM if self._is_service(user_id) else Codes.FORBIDDEN

    async def user_may_create_room_alias(self, user_id: str, room_alias: RoomAlias) -> Verdict:
        """An alias would make a room findable (alias_creation_rules deny it too)."""
        return NOT_SPAM if self._is_service(user_id) else Codes.FORBIDDEN

    async def user_may_publish_room(self, user_id: str, room_id: str) -> Verdict:
        """The room directory stays empty (room_list_publication_rules deny it too)."""
        return NOT_SPAM if self._is_service(user_id) else Codes.FORBIDDEN

    async def user_may_invite(self, inviter: str, invitee: str, room_id: str) -> Verdict:
        """Invites only into enquiry rooms, whose power levels leave them to the assigned counsellor."""
        if self._is_service(inviter) or await self._is_enquiry_room(room_id):
            return NOT_SPAM
        return Codes.FORBIDDEN

    async def user_may_send_3pid_invite(self, inviter: str, medium: str, address: str, room_id: str) -> Verdict:
        """Nobody is invited by e-mail address or phone number (there is no identity server)."""
        return Codes.FORBIDDEN

    async def _is_enquiry_room(self, room_id: str) -> bool:
        """True when the room carries the enquiry marker, set by the bot (or a server admin)."""
        state = await self._api.get_room_state(room_id, [(self._config.enquiry_state_event, "")])
        marker = state.get((self._config.enquiry_state_event, ""))
        if marker is None:
            return False
        return self._is_service(marker.sender) or await self._api.is_user_admin(marker.sender)

    async def may_upload(self, user_id: str, size: int) -> bool:
        """Whether the upload fits into every window; asked before Synapse stores it (else 413)."""
        now = self._api.get_current_time_msec()
        for period_ms, max_bytes in self._config.upload_limits:
            uploaded = await self._api.run_db_interaction(
                "connecta_uploaded_bytes", _uploaded_bytes, user_id, now - period_ms
            )
            if uploaded + size > max_bytes:
                logger.info("Refused an upload: the account's upload volume for the time window is used up")
                return False
        return True


def _uploaded_bytes(txn: LoggingTransaction, user_id: str, since_ms: int) -> int:
    """Bytes `user_id` uploaded since `since_ms` (the query of Synapse's own upload limit)."""
    txn.execute(
        "SELECT COALESCE(SUM(media_length), 0) FROM local_media_repository WHERE user_id = ? AND created_ts > ?",
        (user_id, since_ms),
    )
    row = txn.fetchone()
    return int(row[0]) if row else 0
