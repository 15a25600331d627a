-- The administrative tree (district > town > village) and the accounts that
-- belong to it. Every unit carries its district and town so that scoping a
-- query to a caller is a plain comparison.

CREATE TABLE units (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('district', 'town', 'village')),
    name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    district_id  uuid NOT NULL REFERENCES units (id),
    town_id      uuid REFERENCES units (id),
    office_name  text CHECK (office_name IS NULL OR char_length(office_name) BETWEEN 1 AND 100),
    case_prefix  text CHECK (case_prefix IS NULL OR char_length(case_prefix) BETWEEN 1 AND 20),
    station_name text CHECK (station_name IS NULL OR char_length(station_name) BETWEEN 1 AND 100),
    active       boolean NOT NULL DEFAULT TRUE,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CHECK (
        (kind = 'district' AND district_id = id AND town_id IS NULL
            AND office_name IS NULL AND case_prefix IS NULL AND station_name IS NULL)
        OR (kind = 'town' AND district_id <> id AND town_id = id
            AND office_name IS NOT NULL AND case_prefix IS NOT NULL AND station_name IS NULL)
        OR (kind = 'village' AND district_id <> id AND town_id IS NOT NULL AND town_id <> id
            AND office_name IS NULL AND case_prefix IS NULL)
    )
);

CREATE UNIQUE INDEX units_district_name ON units (name) WHERE kind = 'district';
CREATE UNIQUE INDEX units_town_name ON units (district_id, name) WHERE kind = 'town';
CREATE UNIQUE INDEX units_village_name ON units (town_id, name) WHERE kind = 'village';
CREATE INDEX units_town ON units (town_id);

CREATE TABLE accounts (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name  text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 100),
    role          text NOT NULL CHECK (role IN ('admin', 'district_admin', 'mediator', 'station', 'adviser')),
    unit_id       uuid REFERENCES units (id),
    phone         text CHECK (phone IS NULL OR char_length(phone) BETWEEN 3 AND 32),
    password_hash text NOT NULL,
    token_version integer NOT NULL DEFAULT 1 CHECK (token_version > 0),
    active        boolean NOT NULL DEFAULT TRUE,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CHECK ((role = 'admin') = (unit_id IS NULL))
);

CREATE INDEX accounts_unit ON accounts (unit_id);
