-- Invited participants (People's Mediation Law Art 20): relatives,
-- neighbours, village elders or interpreters a mediator invites to a
-- session by link. An observer has neither an account nor a party; their
-- relation to the dispute is recorded with their name.
ALTER TABLE session_participants
    ADD COLUMN relation text CHECK (char_length(relation) BETWEEN 1 AND 40),
    DROP CONSTRAINT session_participants_kind_check,
    DROP CONSTRAINT session_participants_check,
    DROP CONSTRAINT session_participants_check1,
    ADD CONSTRAINT session_participants_kind_check
        CHECK (kind IN ('mediator', 'station', 'adviser', 'party', 'observer')),
    ADD CONSTRAINT session_participants_party_check CHECK ((kind = 'party') = (party_id IS NOT NULL)),
    ADD CONSTRAINT session_participants_account_check
        CHECK ((kind IN ('party', 'observer')) = (account_id IS NULL)),
    ADD CONSTRAINT session_participants_observer_check CHECK ((kind = 'observer') = (relation IS NOT NULL));
