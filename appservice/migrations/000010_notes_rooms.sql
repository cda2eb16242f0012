-- Case notes (appservice/src/enquiries/rooms.ts): each enquiry taken by a counsellor gets a second,
-- end-to-end encrypted room for its counsellors' private notes, which the seeker never enters.
-- Created by a step of the first claim (or handover); deleted with the conversation's room.
ALTER TABLE enquiries ADD COLUMN notes_room_id text UNIQUE;
