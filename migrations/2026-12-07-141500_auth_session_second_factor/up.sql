-- When the session's sign-in passed the second factor: within minutes of it,
-- the session may change that factor without another code.
ALTER TABLE sessions ADD COLUMN second_factor_at timestamptz;
