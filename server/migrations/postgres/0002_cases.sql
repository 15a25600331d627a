-- Dispute cases from intake to follow-up, their sessions, invitations and
-- attendance, outcomes under the People's Mediation Law, legal
-- consultations, and the hash-chained audit trail.

CREATE TABLE case_counters (
    town_id     uuid NOT NULL REFERENCES units (id),
    year        integer NOT NULL CHECK (year BETWEEN 2000 AND 2999),
    last_number integer NOT NULL CHECK (last_number > 0),
    PRIMARY KEY (town_id, year)
);

CREATE TABLE cases (
    id             uuid PRIMARY KEY,
    case_number    text NOT NULL UNIQUE,
    district_id    uuid NOT NULL REFERENCES units (id),
    town_id        uuid NOT NULL REFERENCES units (id),
    village_id     uuid NOT NULL REFERENCES units (id),
    year           integer NOT NULL,
    number         integer NOT NULL CHECK (number > 0),
    category       text NOT NULL CHECK (category IN ('marriage_family', 'neighbour', 'housing_homestead',
                       'land_forest', 'contract', 'production_business', 'damages', 'labour', 'land_acquisition',
                       'consumer', 'road_traffic', 'property_management', 'other')),
    source         text NOT NULL CHECK (source IN ('party_application', 'own_initiative', 'police_referral',
                       'court_referral', 'government_assignment', 'grid_report')),
    summary        text NOT NULL CHECK (char_length(summary) BETWEEN 1 AND 5000),
    amount_fen     bigint CHECK (amount_fen IS NULL OR amount_fen >= 0),
    public_session boolean NOT NULL,
    state          text NOT NULL CHECK (state IN ('registered', 'scheduled', 'in_session', 'agreed_written',
                       'agreed_oral', 'failed', 'referred', 'withdrawn', 'followed_up', 'closed')),
    registered_by  uuid NOT NULL REFERENCES accounts (id),
    registered_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    outcome_at     timestamptz,
    closed_at      timestamptz,
    UNIQUE (town_id, year, number)
);
CREATE INDEX cases_town_state ON cases (town_id, state);
CREATE INDEX cases_village ON cases (village_id);
CREATE INDEX cases_district_registered ON cases (district_id, registered_at);

CREATE TABLE case_parties (
    id               uuid PRIMARY KEY,
    case_id          uuid NOT NULL REFERENCES cases (id),
    position         integer NOT NULL CHECK (position >= 0),
    side             text NOT NULL CHECK (side IN ('applicant', 'respondent', 'third_party')),
    name             text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
    phone            text,
    -- AES-256-GCM nonce || ciphertext; only the masked form is ever shown widely.
    id_number_sealed bytea,
    id_number_masked text,
    CHECK ((id_number_sealed IS NULL) = (id_number_masked IS NULL)),
    UNIQUE (case_id, position)
);

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases (id),
    planned_start   timestamptz NOT NULL,
    planned_minutes integer NOT NULL CHECK (planned_minutes BETWEEN 5 AND 480),
    mode            text NOT NULL CHECK (mode IN ('video', 'in_person', 'phone')),
    state           text NOT NULL CHECK (state IN ('planned', 'live', 'ended', 'cancelled')),
    actual_start    timestamptz,
    actual_end      timestamptz,
    cancel_reason   text,
    created_by      uuid NOT NULL REFERENCES accounts (id),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CHECK (actual_end IS NULL OR (actual_start IS NOT NULL AND actual_end >= actual_start)),
    CHECK ((state = 'cancelled') = (cancel_reason IS NOT NULL))
);
CREATE INDEX sessions_case ON sessions (case_id);
CREATE INDEX sessions_planned ON sessions (planned_start);

CREATE TABLE session_reschedules (
    id               uuid PRIMARY KEY,
    session_id       uuid NOT NULL REFERENCES sessions (id),
    previous_start   timestamptz NOT NULL,
    previous_minutes integer NOT NULL,
    new_start        timestamptz NOT NULL,
    new_minutes      integer NOT NULL,
    reason           text,
    changed_by       uuid NOT NULL REFERENCES accounts (id),
    changed_at       timestamptz NOT NULL
);
CREATE INDEX session_reschedules_session ON session_reschedules (session_id);

CREATE TABLE session_participants (
    id           uuid PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES sessions (id),
    kind         text NOT NULL CHECK (kind IN ('mediator', 'station', 'adviser', 'party')),
    account_id   uuid REFERENCES accounts (id),
    party_id     uuid REFERENCES case_parties (id),
    display_name text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 100),
    CHECK ((kind = 'party') = (party_id IS NOT NULL)),
    CHECK ((kind = 'party') = (account_id IS NULL)),
    UNIQUE (session_id, account_id),
    UNIQUE (session_id, party_id)
);
CREATE INDEX session_participants_account ON session_participants (account_id);

CREATE TABLE invitations (
    id              uuid PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES sessions (id),
    participant_id  uuid NOT NULL REFERENCES session_participants (id),
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    first_opened_at timestamptz,
    CHECK (valid_until > valid_from)
);
CREATE INDEX invitations_session ON invitations (session_id);

CREATE TABLE attendance (
    id             uuid PRIMARY KEY,
    session_id     uuid NOT NULL REFERENCES sessions (id),
    participant_id uuid NOT NULL REFERENCES session_participants (id),
    joined_at      timestamptz NOT NULL,
    left_at        timestamptz,
    CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE INDEX attendance_session ON attendance (session_id);

CREATE TABLE outcomes (
    case_id          uuid PRIMARY KEY REFERENCES cases (id),
    kind             text NOT NULL CHECK (kind IN ('written', 'oral', 'failed', 'referred', 'withdrawn')),
    reached_via      text CHECK (reached_via IN ('in_person', 'phone', 'video')),
    terms            text,
    reason           text,
    routes_told      jsonb,
    referred_to      text,
    reference_number text,
    effective_at     timestamptz NOT NULL,
    recorded_by      uuid NOT NULL REFERENCES accounts (id),
    recorded_at      timestamptz NOT NULL,
    CHECK ((kind = 'oral') = (reached_via IS NOT NULL)),
    CHECK (kind <> 'oral' OR terms IS NOT NULL),
    CHECK (kind NOT IN ('failed', 'withdrawn') OR reason IS NOT NULL),
    CHECK ((kind = 'failed') = (routes_told IS NOT NULL)),
    CHECK ((kind = 'referred') = (referred_to IS NOT NULL))
);

CREATE TABLE agreements (
    case_id              uuid PRIMARY KEY REFERENCES cases (id),
    state                text NOT NULL CHECK (state IN ('draft', 'signing', 'effective')),
    version              integer NOT NULL CHECK (version > 0),
    facts                text NOT NULL,
    responsibilities     text NOT NULL,
    terms                text NOT NULL,
    performance_manner   text NOT NULL,
    performance_deadline date NOT NULL,
    text_sha256          text NOT NULL CHECK (char_length(text_sha256) = 64),
    created_by           uuid NOT NULL REFERENCES accounts (id),
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    effective_at         timestamptz,
    CHECK ((state = 'effective') = (effective_at IS NOT NULL))
);

CREATE TABLE agreement_confirmations (
    id                uuid PRIMARY KEY,
    case_id           uuid NOT NULL REFERENCES agreements (case_id),
    version           integer NOT NULL,
    signer            text NOT NULL CHECK (signer IN ('party', 'mediator')),
    party_id          uuid REFERENCES case_parties (id),
    signer_account_id uuid REFERENCES accounts (id),
    method            text NOT NULL CHECK (method IN ('video_room', 'village_station', 'paper_scan')),
    text_sha256       text NOT NULL CHECK (char_length(text_sha256) = 64),
    confirmed_at      timestamptz NOT NULL,
    recorded_by       uuid REFERENCES accounts (id),
    voided_at         timestamptz,
    CHECK ((signer = 'party') = (party_id IS NOT NULL)),
    CHECK ((signer = 'mediator') = (signer_account_id IS NOT NULL))
);
CREATE INDEX agreement_confirmations_case ON agreement_confirmations (case_id);

CREATE TABLE judicial_confirmations (
    case_id     uuid PRIMARY KEY REFERENCES cases (id),
    applied_on  date NOT NULL,
    court       text NOT NULL CHECK (char_length(court) BETWEEN 1 AND 100),
    result      text NOT NULL CHECK (result IN ('pending', 'confirmed', 'rejected')),
    result_on   date,
    recorded_by uuid NOT NULL REFERENCES accounts (id),
    updated_at  timestamptz NOT NULL,
    CHECK ((result = 'pending') = (result_on IS NULL))
);

CREATE TABLE follow_ups (
    id             uuid PRIMARY KEY,
    case_id        uuid NOT NULL REFERENCES cases (id),
    visited_on     date NOT NULL,
    visited_by     text NOT NULL,
    performance    text NOT NULL CHECK (performance IN ('fully', 'partially', 'not_yet', 'refused', 'not_applicable')),
    satisfaction   text NOT NULL CHECK (satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')),
    remaining_risk text,
    next_step      text,
    recorded_by    uuid NOT NULL REFERENCES accounts (id),
    recorded_at    timestamptz NOT NULL
);
CREATE INDEX follow_ups_case ON follow_ups (case_id);

CREATE TABLE consultations (
    id             uuid PRIMARY KEY,
    district_id    uuid NOT NULL REFERENCES units (id),
    town_id        uuid NOT NULL REFERENCES units (id),
    village_id     uuid NOT NULL REFERENCES units (id),
    topic          text NOT NULL CHECK (topic IN ('marriage_family', 'neighbour', 'housing_homestead',
                       'land_forest', 'contract', 'production_business', 'damages', 'labour', 'land_acquisition',
                       'consumer', 'road_traffic', 'property_management', 'other')),
    question       text NOT NULL CHECK (char_length(question) BETWEEN 1 AND 5000),
    answer_summary text NOT NULL CHECK (char_length(answer_summary) BETWEEN 1 AND 5000),
    adviser_id     uuid NOT NULL REFERENCES accounts (id),
    minutes_taken  integer NOT NULL CHECK (minutes_taken BETWEEN 1 AND 600),
    via            text NOT NULL CHECK (via IN ('video', 'phone', 'in_person')),
    case_id        uuid REFERENCES cases (id),
    asked_at       timestamptz NOT NULL,
    recorded_by    uuid NOT NULL REFERENCES accounts (id),
    created_at     timestamptz NOT NULL
);
CREATE INDEX consultations_village ON consultations (village_id, asked_at);

-- Append-only: each row carries the hash of the one before it.
CREATE TABLE audit_events (
    seq         bigint PRIMARY KEY CHECK (seq > 0),
    at          timestamptz NOT NULL,
    actor_id    uuid,
    actor_role  text NOT NULL,
    actor_name  text NOT NULL,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    result      text NOT NULL,
    client_addr text,
    details     jsonb NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL UNIQUE
);
CREATE INDEX audit_events_object ON audit_events (object_id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
