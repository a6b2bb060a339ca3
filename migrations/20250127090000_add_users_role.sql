-- migrate:up
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member'
    CHECK (role IN ('owner', 'admin', 'member'));

-- migrate:down
ALTER TABLE users DROP COLUMN role;
