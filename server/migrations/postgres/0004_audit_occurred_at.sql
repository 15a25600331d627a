-- When the recorded thing happened, where that differs from `at`, the time
-- the event was written: room records that waited in the spool while the
-- database was away. NULL for everything written as it happened.
ALTER TABLE audit_events ADD COLUMN occurred_at timestamptz;
