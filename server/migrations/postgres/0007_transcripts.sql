-- The transcript of a hearing (调解笔录, People's Mediation Law Art 27 and
-- 28): one per session, kept by the mediator and saved as a new version on
-- every change; the rendered text and its SHA-256 are what the parties
-- confirm. A confirmation of an earlier version is voided, never deleted.
CREATE TABLE transcripts (
    session_id     uuid PRIMARY KEY REFERENCES sessions (id),
    case_id        uuid NOT NULL REFERENCES cases (id),
    version        integer NOT NULL CHECK (version >= 1),
    held_at        timestamptz NOT NULL,
    attendees      text NOT NULL,
    statements     jsonb NOT NULL,
    agreed_facts   text NOT NULL CHECK (char_length(agreed_facts) <= 5000),
    mediator_notes text NOT NULL CHECK (char_length(mediator_notes) <= 5000),
    oral_terms     text CHECK (char_length(oral_terms) BETWEEN 1 AND 5000),
    text           text NOT NULL,
    text_sha256    text NOT NULL CHECK (char_length(text_sha256) = 64),
    saved_by       uuid NOT NULL REFERENCES accounts (id),
    saved_at       timestamptz NOT NULL
);
CREATE INDEX transcripts_case ON transcripts (case_id);

CREATE TABLE transcript_confirmations (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES transcripts (session_id),
    version      integer NOT NULL,
    party_id     uuid NOT NULL REFERENCES case_parties (id),
    method       text NOT NULL CHECK (method IN ('video_room', 'village_station')),
    text_sha256  text NOT NULL CHECK (char_length(text_sha256) = 64),
    confirmed_at timestamptz NOT NULL,
    recorded_by  uuid REFERENCES accounts (id),
    voided_at    timestamptz
);
CREATE UNIQUE INDEX transcript_confirmations_one_per_party
    ON transcript_confirmations (session_id, version, party_id)
    WHERE voided_at IS NULL;
