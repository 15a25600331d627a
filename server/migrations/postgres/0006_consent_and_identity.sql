-- Before a hearing (People's Mediation Law Art 17 and 23; SPC Online
-- Mediation Rules Art 4 and 17; PIPL): each party's decision on mediating
-- online, with the notice version they read and how the decision was given,
-- and each check of a party's identity. Rows are never updated: a party's
-- standing in a session is their latest decision.
CREATE TABLE consents (
    id             uuid PRIMARY KEY,
    session_id     uuid NOT NULL REFERENCES sessions (id),
    party_id       uuid NOT NULL REFERENCES case_parties (id),
    decision       text NOT NULL CHECK (decision IN ('consent', 'refuse', 'withdraw')),
    method         text NOT NULL CHECK (method IN ('own_device', 'at_station')),
    publicity      text CHECK (publicity IN ('public', 'non_public')),
    notice_version text NOT NULL CHECK (char_length(notice_version) BETWEEN 1 AND 40),
    recorded_by    uuid REFERENCES accounts (id),
    recorded_at    timestamptz NOT NULL,
    CHECK ((publicity IS NOT NULL) = (decision = 'consent')),
    CHECK ((recorded_by IS NULL) = (method = 'own_device'))
);
CREATE INDEX consents_session ON consents (session_id, recorded_at);

CREATE TABLE identity_checks (
    id         uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id),
    party_id   uuid NOT NULL REFERENCES case_parties (id),
    method     text NOT NULL CHECK (method IN ('id_card_at_station', 'id_card_on_camera')),
    checked_by uuid NOT NULL REFERENCES accounts (id),
    checked_at timestamptz NOT NULL
);
CREATE INDEX identity_checks_session ON identity_checks (session_id, checked_at);
