-- People's Mediation Law Art 25: a dispute likely to turn violent, into a
-- public-order case or a crime is flagged, and whom it was reported to and
-- when is recorded. A flag is closed (never deleted) when the danger has
-- passed; the district lists the open ones.
CREATE TABLE risk_flags (
    id           BLOB PRIMARY KEY,
    case_id      BLOB NOT NULL REFERENCES cases (id),
    risk         TEXT NOT NULL CHECK (risk IN ('escalation', 'public_order', 'criminal')),
    description  TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 2000),
    flagged_by   BLOB NOT NULL REFERENCES accounts (id),
    flagged_at   INTEGER NOT NULL,
    closed_by    BLOB REFERENCES accounts (id),
    closed_at    INTEGER,
    closing_note TEXT,
    CHECK ((closed_by IS NULL) = (closed_at IS NULL)),
    CHECK (closing_note IS NULL OR closed_at IS NOT NULL)
) STRICT;
CREATE INDEX risk_flags_case ON risk_flags (case_id);
CREATE INDEX risk_flags_open ON risk_flags (flagged_at) WHERE closed_at IS NULL;

CREATE TABLE risk_reports (
    id          BLOB PRIMARY KEY,
    flag_id     BLOB NOT NULL REFERENCES risk_flags (id),
    reported_to TEXT NOT NULL CHECK (reported_to IN ('public_security', 'justice_office', 'governance_centre', 'other')),
    reported_at INTEGER NOT NULL,
    detail      TEXT,
    recorded_by BLOB NOT NULL REFERENCES accounts (id),
    recorded_at INTEGER NOT NULL
) STRICT;
CREATE INDEX risk_reports_flag ON risk_reports (flag_id);
