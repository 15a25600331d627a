-- SQLite twin of the PostgreSQL migration of the same name: ids are 16-byte
-- blobs, times integer milliseconds, dates 'YYYY-MM-DD' text, JSON text.

-- Dispute cases from intake to follow-up, their sessions, invitations and
-- attendance, outcomes under the People's Mediation Law, legal
-- consultations, and the hash-chained audit trail.

CREATE TABLE case_counters (
    town_id     BLOB NOT NULL REFERENCES units (id),
    year        INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2999),
    last_number INTEGER NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (town_id, year)
) STRICT;

CREATE TABLE cases (
    id             BLOB PRIMARY KEY,
    case_number    TEXT NOT NULL UNIQUE,
    district_id    BLOB NOT NULL REFERENCES units (id),
    town_id        BLOB NOT NULL REFERENCES units (id),
    village_id     BLOB NOT NULL REFERENCES units (id),
    year           INTEGER NOT NULL,
    number         INTEGER NOT NULL CHECK (number > 0),
    category       TEXT NOT NULL CHECK (category IN ('marriage_family', 'neighbour', 'housing_homestead',
                       'land_forest', 'contract', 'production_business', 'damages', 'labour', 'land_acquisition',
                       'consumer', 'road_traffic', 'property_management', 'other')),
    source         TEXT NOT NULL CHECK (source IN ('party_application', 'own_initiative', 'police_referral',
                       'court_referral', 'government_assignment', 'grid_report')),
    summary        TEXT NOT NULL CHECK (length(summary) BETWEEN 1 AND 5000),
    amount_fen     INTEGER CHECK (amount_fen IS NULL OR amount_fen >= 0),
    public_session INTEGER NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('registered', 'scheduled', 'in_session', 'agreed_written',
                       'agreed_oral', 'failed', 'referred', 'withdrawn', 'followed_up', 'closed')),
    registered_by  BLOB NOT NULL REFERENCES accounts (id),
    registered_at  INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    outcome_at     INTEGER,
    closed_at      INTEGER,
    UNIQUE (town_id, year, number)
) STRICT;
CREATE INDEX cases_town_state ON cases (town_id, state);
CREATE INDEX cases_village ON cases (village_id);
CREATE INDEX cases_district_registered ON cases (district_id, registered_at);

CREATE TABLE case_parties (
    id               BLOB PRIMARY KEY,
    case_id          BLOB NOT NULL REFERENCES cases (id),
    position         INTEGER NOT NULL CHECK (position >= 0),
    side             TEXT NOT NULL CHECK (side IN ('applicant', 'respondent', 'third_party')),
    name             TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    phone            TEXT,
    -- AES-256-GCM nonce || ciphertext; only the masked form is ever shown widely.
    id_number_sealed BLOB,
    id_number_masked TEXT,
    CHECK ((id_number_sealed IS NULL) = (id_number_masked IS NULL)),
    UNIQUE (case_id, position)
) STRICT;

CREATE TABLE sessions (
    id              BLOB PRIMARY KEY,
    case_id         BLOB NOT NULL REFERENCES cases (id),
    planned_start   INTEGER NOT NULL,
    planned_minutes INTEGER NOT NULL CHECK (planned_minutes BETWEEN 5 AND 480),
    mode            TEXT NOT NULL CHECK (mode IN ('video', 'in_person', 'phone')),
    state           TEXT NOT NULL CHECK (state IN ('planned', 'live', 'ended', 'cancelled')),
    actual_start    INTEGER,
    actual_end      INTEGER,
    cancel_reason   TEXT,
    created_by      BLOB NOT NULL REFERENCES accounts (id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK (actual_end IS NULL OR (actual_start IS NOT NULL AND actual_end >= actual_start)),
    CHECK ((state = 'cancelled') = (cancel_reason IS NOT NULL))
) STRICT;
CREATE INDEX sessions_case ON sessions (case_id);
CREATE INDEX sessions_planned ON sessions (planned_start);

CREATE TABLE session_reschedules (
    id               BLOB PRIMARY KEY,
    session_id       BLOB NOT NULL REFERENCES sessions (id),
    previous_start   INTEGER NOT NULL,
    previous_minutes INTEGER NOT NULL,
    new_start        INTEGER NOT NULL,
    new_minutes      INTEGER NOT NULL,
    reason           TEXT,
    changed_by       BLOB NOT NULL REFERENCES accounts (id),
    changed_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX session_reschedules_session ON session_reschedules (session_id);

CREATE TABLE session_participants (
    id           BLOB PRIMARY KEY,
    session_id   BLOB NOT NULL REFERENCES sessions (id),
    kind         TEXT NOT NULL CHECK (kind IN ('mediator', 'station', 'adviser', 'party')),
    account_id   BLOB REFERENCES accounts (id),
    party_id     BLOB REFERENCES case_parties (id),
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    CHECK ((kind = 'party') = (party_id IS NOT NULL)),
    CHECK ((kind = 'party') = (account_id IS NULL)),
    UNIQUE (session_id, account_id),
    UNIQUE (session_id, party_id)
) STRICT;
CREATE INDEX session_participants_account ON session_participants (account_id);

CREATE TABLE invitations (
    id              BLOB PRIMARY KEY,
    session_id      BLOB NOT NULL REFERENCES sessions (id),
    participant_id  BLOB NOT NULL REFERENCES session_participants (id),
    valid_from      INTEGER NOT NULL,
    valid_until     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    first_opened_at INTEGER,
    CHECK (valid_until > valid_from)
) STRICT;
CREATE INDEX invitations_session ON invitations (session_id);

CREATE TABLE attendance (
    id             BLOB PRIMARY KEY,
    session_id     BLOB NOT NULL REFERENCES sessions (id),
    participant_id BLOB NOT NULL REFERENCES session_participants (id),
    joined_at      INTEGER NOT NULL,
    left_at        INTEGER,
    CHECK (left_at IS NULL OR left_at >= joined_at)
) STRICT;
CREATE INDEX attendance_session ON attendance (session_id);

CREATE TABLE outcomes (
    case_id          BLOB PRIMARY KEY REFERENCES cases (id),
    kind             TEXT NOT NULL CHECK (kind IN ('written', 'oral', 'failed', 'referred', 'withdrawn')),
    reached_via      TEXT CHECK (reached_via IN ('in_person', 'phone', 'video')),
    terms            TEXT,
    reason           TEXT,
    routes_told      TEXT,
    referred_to      TEXT,
    reference_number TEXT,
    effective_at     INTEGER NOT NULL,
    recorded_by      BLOB NOT NULL REFERENCES accounts (id),
    recorded_at      INTEGER NOT NULL,
    CHECK ((kind = 'oral') = (reached_via IS NOT NULL)),
    CHECK (kind <> 'oral' OR terms IS NOT NULL),
    CHECK (kind NOT IN ('failed', 'withdrawn') OR reason IS NOT NULL),
    CHECK ((kind = 'failed') = (routes_told IS NOT NULL)),
    CHECK ((kind = 'referred') = (referred_to IS NOT NULL))
) STRICT;

CREATE TABLE agreements (
    case_id              BLOB PRIMARY KEY REFERENCES cases (id),
    state                TEXT NOT NULL CHECK (state IN ('draft', 'signing', 'effective')),
    version              INTEGER NOT NULL CHECK (version > 0),
    facts                TEXT NOT NULL,
    responsibilities     TEXT NOT NULL,
    terms                TEXT NOT NULL,
    performance_manner   TEXT NOT NULL,
    performance_deadline TEXT NOT NULL,
    text_sha256          TEXT NOT NULL CHECK (length(text_sha256) = 64),
    created_by           BLOB NOT NULL REFERENCES accounts (id),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    effective_at         INTEGER,
    CHECK ((state = 'effective') = (effective_at IS NOT NULL))
) STRICT;

CREATE TABLE agreement_confirmations (
    id                BLOB PRIMARY KEY,
    case_id           BLOB NOT NULL REFERENCES agreements (case_id),
    version           INTEGER NOT NULL,
    signer            TEXT NOT NULL CHECK (signer IN ('party', 'mediator')),
    party_id          BLOB REFERENCES case_parties (id),
    signer_account_id BLOB REFERENCES accounts (id),
    method            TEXT NOT NULL CHECK (method IN ('video_room', 'village_station', 'paper_scan')),
    text_sha256       TEXT NOT NULL CHECK (length(text_sha256) = 64),
    confirmed_at      INTEGER NOT NULL,
    recorded_by       BLOB REFERENCES accounts (id),
    voided_at         INTEGER,
    CHECK ((signer = 'party') = (party_id IS NOT NULL)),
    CHECK ((signer = 'mediator') = (signer_account_id IS NOT NULL))
) STRICT;
CREATE INDEX agreement_confirmations_case ON agreement_confirmations (case_id);

CREATE TABLE judicial_confirmations (
    case_id     BLOB PRIMARY KEY REFERENCES cases (id),
    applied_on  TEXT NOT NULL,
    court       TEXT NOT NULL CHECK (length(court) BETWEEN 1 AND 100),
    result      TEXT NOT NULL CHECK (result IN ('pending', 'confirmed', 'rejected')),
    result_on   TEXT,
    recorded_by BLOB NOT NULL REFERENCES accounts (id),
    updated_at  INTEGER NOT NULL,
    CHECK ((result = 'pending') = (result_on IS NULL))
) STRICT;

CREATE TABLE follow_ups (
    id             BLOB PRIMARY KEY,
    case_id        BLOB NOT NULL REFERENCES cases (id),
    visited_on     TEXT NOT NULL,
    visited_by     TEXT NOT NULL,
    performance    TEXT NOT NULL CHECK (performance IN ('fully', 'partially', 'not_yet', 'refused', 'not_applicable')),
    satisfaction   TEXT NOT NULL CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')),
    remaining_risk TEXT,
    next_step      TEXT,
    recorded_by    BLOB NOT NULL REFERENCES accounts (id),
    recorded_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX follow_ups_case ON follow_ups (case_id);

CREATE TABLE consultations (
    id             BLOB PRIMARY KEY,
    district_id    BLOB NOT NULL REFERENCES units (id),
    town_id        BLOB NOT NULL REFERENCES units (id),
    village_id     BLOB NOT NULL REFERENCES units (id),
    topic          TEXT NOT NULL CHECK (topic IN ('marriage_family', 'neighbour', 'housing_homestead',
                       'land_forest', 'contract', 'production_business', 'damages', 'labour', 'land_acquisition',
                       'consumer', 'road_traffic', 'property_management', 'other')),
    question       TEXT NOT NULL CHECK (length(question) BETWEEN 1 AND 5000),
    answer_summary TEXT NOT NULL CHECK (length(answer_summary) BETWEEN 1 AND 5000),
    adviser_id     BLOB NOT NULL REFERENCES accounts (id),
    minutes_taken  INTEGER NOT NULL CHECK (minutes_taken BETWEEN 1 AND 600),
    via            TEXT NOT NULL CHECK (via IN ('video', 'phone', 'in_person')),
    case_id        BLOB REFERENCES cases (id),
    asked_at       INTEGER NOT NULL,
    recorded_by    BLOB NOT NULL REFERENCES accounts (id),
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX consultations_village ON consultations (village_id, asked_at);

-- Append-only: each row carries the hash of the one before it.
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY CHECK (seq > 0),
    at          INTEGER NOT NULL,
    actor_id    BLOB,
    actor_role  TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    result      TEXT NOT NULL,
    client_addr TEXT,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
) STRICT;
CREATE INDEX audit_events_object ON audit_events (object_id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
