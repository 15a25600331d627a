-- Run once as the PostgreSQL superuser: psql -f postgres-setup.sql
-- The server applies its own migrations at start-up.
CREATE ROLE mediation LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE mediation OWNER mediation ENCODING 'UTF8' TEMPLATE template0;
