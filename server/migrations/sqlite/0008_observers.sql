-- no-transaction
-- Invited participants (People's Mediation Law Art 20): relatives,
-- neighbours, village elders or interpreters a mediator invites to a
-- session by link. An observer has neither an account nor a party; their
-- relation to the dispute is recorded with their name.
--
-- SQLite cannot change a table's checks in place: the table is rebuilt as
-- its documentation prescribes (foreign keys off for the swap, on again
-- after; the rows and their ids are kept, so attendance and invitations
-- still point at them).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE session_participants_new (
    id           BLOB PRIMARY KEY,
    session_id   BLOB NOT NULL REFERENCES sessions (id),
    kind         TEXT NOT NULL CHECK (kind IN ('mediator', 'station', 'adviser', 'party', 'observer')),
    account_id   BLOB REFERENCES accounts (id),
    party_id     BLOB REFERENCES case_parties (id),
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    relation     TEXT CHECK (length(relation) BETWEEN 1 AND 40),
    CHECK ((kind = 'party') = (party_id IS NOT NULL)),
    CHECK ((kind IN ('party', 'observer')) = (account_id IS NULL)),
    CHECK ((kind = 'observer') = (relation IS NOT NULL)),
    UNIQUE (session_id, account_id),
    UNIQUE (session_id, party_id)
) STRICT;
INSERT INTO session_participants_new (id, session_id, kind, account_id, party_id, display_name)
    SELECT id, session_id, kind, account_id, party_id, display_name FROM session_participants;
DROP TABLE session_participants;
ALTER TABLE session_participants_new RENAME TO session_participants;
CREATE INDEX session_participants_account ON session_participants (account_id);
COMMIT;
PRAGMA foreign_keys = ON;
