-- The balance (Balance: the web app and the status command show it every
-- second) sums the latest Total of each pair this node is part of. As a
-- volunteer it looked up its receipts by volunteer, which no index began
-- with: every read scanned the whole table (211 ms with 100,000
-- receipts). With this index, and the primary key as a publisher, it
-- reads two index entries per pair.
CREATE INDEX credits_receipts_earned ON credits_receipts (volunteer, publisher, seq);
