-- Before a hearing (People's Mediation Law Art 17 and 23; SPC Online
-- Mediation Rules Art 4 and 17; PIPL): each party's decision on mediating
-- online, with the notice version they read and how the decision was given,
-- and each check of a party's identity. Rows are never updated: a party's
-- standing in a session is their latest decision.
CREATE TABLE consents (
    id             BLOB PRIMARY KEY,
    session_id     BLOB NOT NULL REFERENCES sessions (id),
    party_id       BLOB NOT NULL REFERENCES case_parties (id),
    decision       TEXT NOT NULL CHECK (decision IN ('consent', 'refuse', 'withdraw')),
    method         TEXT NOT NULL CHECK (method IN ('own_device', 'at_station')),
    publicity      TEXT CHECK (publicity IN ('public', 'non_public')),
    notice_version TEXT NOT NULL CHECK (length(notice_version) BETWEEN 1 AND 40),
    recorded_by    BLOB REFERENCES accounts (id),
    recorded_at    INTEGER NOT NULL,
    CHECK ((publicity IS NOT NULL) = (decision = 'consent')),
    CHECK ((recorded_by IS NULL) = (method = 'own_device'))
) STRICT;
CREATE INDEX consents_session ON consents (session_id, recorded_at);

CREATE TABLE identity_checks (
    id         BLOB PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES sessions (id),
    party_id   BLOB NOT NULL REFERENCES case_parties (id),
    method     TEXT NOT NULL CHECK (method IN ('id_card_at_station', 'id_card_on_camera')),
    checked_by BLOB NOT NULL REFERENCES accounts (id),
    checked_at INTEGER NOT NULL
) STRICT;
CREATE INDEX identity_checks_session ON identity_checks (session_id, checked_at);
