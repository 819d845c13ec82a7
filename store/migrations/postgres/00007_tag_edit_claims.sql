-- Each claim of a tag edit item takes the next claim number: the fencing
-- token a write-back worker renews its lease with and finishes the item
-- under, so a worker whose claim has passed to another can neither extend
-- it nor record a result.

-- +goose Up
ALTER TABLE tag_edit_items ADD COLUMN claim BIGINT NOT NULL DEFAULT 0;
