-- migrate:up
-- Reference data every tenant needs: the plans an account can be on.
CREATE TABLE plans (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    seats INTEGER NOT NULL CHECK (seats > 0)
);
INSERT INTO plans (code, name, seats) VALUES
    ('free', 'Free', 3),
    ('team', 'Team', 25),
    ('enterprise', 'Enterprise', 1000);

-- migrate:down
DROP TABLE plans;
