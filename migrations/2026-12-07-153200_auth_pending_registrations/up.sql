-- Open registration is finished from the emailed link: until then nothing is
-- created, and the answer to `register` is the same whether or not the address
-- already has an account (its owner is mailed instead of a link).
CREATE TABLE pending_registrations (
    id             uuid PRIMARY KEY,
    email          text NOT NULL,
    name           text NOT NULL,
    company_name   text NOT NULL,
    password_hash  text NOT NULL,
    -- Set when the confirmation link is mailed; SHA-256 of the token.
    token_hash     bytea CONSTRAINT pending_registrations_token_key UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX pending_registrations_email_idx ON pending_registrations (lower(email));
CREATE INDEX pending_registrations_expires_idx ON pending_registrations (expires_at);
