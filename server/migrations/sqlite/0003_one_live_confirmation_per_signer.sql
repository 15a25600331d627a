-- One live confirmation per party and one mediator signature per version
-- of an agreement: the schema refuses a second one even when two requests
-- race past the application's own check.
CREATE UNIQUE INDEX agreement_confirmations_one_per_party
    ON agreement_confirmations (case_id, version, party_id)
    WHERE voided_at IS NULL AND party_id IS NOT NULL;
CREATE UNIQUE INDEX agreement_confirmations_one_mediator
    ON agreement_confirmations (case_id, version)
    WHERE voided_at IS NULL AND signer = 'mediator';
