-- Where each destination of consent changes (a webhook, a NATS subject) has
-- got to: the sequence number of the last consent event it acknowledged.
-- Consent events are the outbox: stored once, in commit order, never
-- changed.
CREATE TABLE deliveries (
    destination TEXT PRIMARY KEY,
    delivered   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
