-- Where each destination of consent changes has got to (see the SQLite
-- migration). Consent imports take an advisory lock, so sequence numbers
-- become visible in order and a destination's cursor never skips one.
CREATE TABLE deliveries (
    destination TEXT PRIMARY KEY,
    delivered   BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
