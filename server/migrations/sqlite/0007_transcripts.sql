-- The transcript of a hearing (调解笔录, People's Mediation Law Art 27 and
-- 28): one per session, kept by the mediator and saved as a new version on
-- every change; the rendered text and its SHA-256 are what the parties
-- confirm. A confirmation of an earlier version is voided, never deleted.
CREATE TABLE transcripts (
    session_id     BLOB PRIMARY KEY REFERENCES sessions (id),
    case_id        BLOB NOT NULL REFERENCES cases (id),
    version        INTEGER NOT NULL CHECK (version >= 1),
    held_at        INTEGER NOT NULL,
    attendees      TEXT NOT NULL,
    statements     TEXT NOT NULL,
    agreed_facts   TEXT NOT NULL CHECK (length(agreed_facts) <= 5000),
    mediator_notes TEXT NOT NULL CHECK (length(mediator_notes) <= 5000),
    oral_terms     TEXT CHECK (length(oral_terms) BETWEEN 1 AND 5000),
    text           TEXT NOT NULL,
    text_sha256    TEXT NOT NULL CHECK (length(text_sha256) = 64),
    saved_by       BLOB NOT NULL REFERENCES accounts (id),
    saved_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX transcripts_case ON transcripts (case_id);

CREATE TABLE transcript_confirmations (
    id           BLOB PRIMARY KEY,
    session_id   BLOB NOT NULL REFERENCES transcripts (session_id),
    version      INTEGER NOT NULL,
    party_id     BLOB NOT NULL REFERENCES case_parties (id),
    method       TEXT NOT NULL CHECK (method IN ('video_room', 'village_station')),
    text_sha256  TEXT NOT NULL CHECK (length(text_sha256) = 64),
    confirmed_at INTEGER NOT NULL,
    recorded_by  BLOB REFERENCES accounts (id),
    voided_at    INTEGER
) STRICT;
CREATE UNIQUE INDEX transcript_confirmations_one_per_party
    ON transcript_confirmations (session_id, version, party_id)
    WHERE voided_at IS NULL;
