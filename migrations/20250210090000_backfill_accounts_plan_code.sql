-- migrate:up
-- Accounts point at the plans table instead of carrying free text.
ALTER TABLE accounts ADD COLUMN plan_code TEXT REFERENCES plans (code);
UPDATE accounts SET plan_code = plan WHERE plan IN (SELECT code FROM plans);
UPDATE accounts SET plan_code = 'free' WHERE plan_code IS NULL;

-- migrate:down
ALTER TABLE accounts DROP COLUMN plan_code;
