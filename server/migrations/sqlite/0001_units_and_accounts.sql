-- The administrative tree (district > town > village) and the accounts that
-- belong to it. Ids are 16-byte UUID blobs, times are milliseconds since the
-- epoch, booleans 0/1.

CREATE TABLE units (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    kind         TEXT NOT NULL CHECK (kind IN ('district', 'town', 'village')),
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    district_id  BLOB NOT NULL REFERENCES units (id),
    town_id      BLOB REFERENCES units (id),
    office_name  TEXT CHECK (office_name IS NULL OR length(office_name) BETWEEN 1 AND 100),
    case_prefix  TEXT CHECK (case_prefix IS NULL OR length(case_prefix) BETWEEN 1 AND 20),
    station_name TEXT CHECK (station_name IS NULL OR length(station_name) BETWEEN 1 AND 100),
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    CHECK (
        (kind = 'district' AND district_id = id AND town_id IS NULL
            AND office_name IS NULL AND case_prefix IS NULL AND station_name IS NULL)
        OR (kind = 'town' AND district_id <> id AND town_id = id
            AND office_name IS NOT NULL AND case_prefix IS NOT NULL AND station_name IS NULL)
        OR (kind = 'village' AND district_id <> id AND town_id IS NOT NULL AND town_id <> id
            AND office_name IS NULL AND case_prefix IS NULL)
    )
) STRICT;

CREATE UNIQUE INDEX units_district_name ON units (name) WHERE kind = 'district';
CREATE UNIQUE INDEX units_town_name ON units (district_id, name) WHERE kind = 'town';
CREATE UNIQUE INDEX units_village_name ON units (town_id, name) WHERE kind = 'village';
CREATE INDEX units_town ON units (town_id);

CREATE TABLE accounts (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    username      TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 2 AND 64 AND username = lower(username)),
    display_name  TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    role          TEXT NOT NULL CHECK (role IN ('admin', 'district_admin', 'mediator', 'station', 'adviser')),
    unit_id       BLOB REFERENCES units (id),
    phone         TEXT CHECK (phone IS NULL OR length(phone) BETWEEN 3 AND 32),
    password_hash TEXT NOT NULL,
    token_version INTEGER NOT NULL DEFAULT 1 CHECK (token_version > 0),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    CHECK ((role = 'admin') = (unit_id IS NULL))
) STRICT;

CREATE INDEX accounts_unit ON accounts (unit_id);
