-- migrate:up
-- Sign-in looks users up by email across accounts.
CREATE INDEX users_email_idx ON users (email);

-- migrate:down
DROP INDEX users_email_idx;
