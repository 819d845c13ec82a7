-- The days whose costs are stored, in whole calendar months and empty days
-- included: where a cost import goes on, and its progress ("32 of 90
-- days"). Day numbers yyyymmdd, as in cost_rows. Imports before this one
-- stored whole months too, so what they stored counts as covered.

-- +goose Up
ALTER TABLE subscriptions ADD COLUMN costs_from BIGINT;
ALTER TABLE subscriptions ADD COLUMN costs_to BIGINT;
UPDATE subscriptions SET
    costs_from = (SELECT MIN(day) FROM cost_daily d WHERE d.subscription_id = subscriptions.id AND d.dim = 'total'),
    costs_to = (SELECT MAX(day) FROM cost_daily d WHERE d.subscription_id = subscriptions.id AND d.dim = 'total');
