-- A volunteer's receipts still to countersign are listed in sequence order
-- every few seconds (PendingFor): with seq in the partial index the query
-- reads only the pending ones, not every receipt of the pair (24 ms with
-- 10,000 countersigned, 110 ms with 50,000).
DROP INDEX credits_receipts_pending;
CREATE INDEX credits_receipts_pending ON credits_receipts (publisher, volunteer, seq) WHERE countersig IS NULL;
