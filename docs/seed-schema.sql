-- Criptoren: the seed's four tables, as RECONSTRUCTED (the original SQL file is not available).
--
-- Sources: issue 8 (§1.14) quotes `positioned_orders.symbol_id` and `trades.symbol_id` as
-- `INT NOT NULL REFERENCES symbols(id)` and names `symbols.is_active`; the closing note of
-- issue 2 lists the columns of each table; money is DECIMAL(18,8) as the seed specified.
-- Where a detail was not known (lengths, defaults), the reconstruction follows the service's
-- own schema. Every column and reference below exists in the live schema, on SQLite and on
-- PostgreSQL (tests/integration/test_seed_schema.py checks it); the live tables add columns
-- beside them (see src/criptoren/db/models.py). On SQLite, DECIMAL(18,8) columns are stored
-- as exact text (SQLite's NUMERIC affinity would round them to 15 digits).

CREATE TABLE clients (
    id SERIAL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    api_token VARCHAR(255) NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE symbols (
    id SERIAL PRIMARY KEY,
    symbol VARCHAR(20) NOT NULL UNIQUE,
    base_asset VARCHAR(20) NOT NULL,
    quote_asset VARCHAR(20) NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE positioned_orders (
    id SERIAL PRIMARY KEY,
    client_id INT NOT NULL REFERENCES clients(id),
    symbol_id INT NOT NULL REFERENCES symbols(id),
    type VARCHAR(4) NOT NULL CHECK (type IN ('buy', 'sell')),
    target_price DECIMAL(18,8) NOT NULL,
    quantity DECIMAL(18,8) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'waiting',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE trades (
    id SERIAL PRIMARY KEY,
    client_id INT NOT NULL REFERENCES clients(id),
    symbol_id INT NOT NULL REFERENCES symbols(id),
    type VARCHAR(4) NOT NULL CHECK (type IN ('buy', 'sell')),
    price DECIMAL(18,8) NOT NULL,
    quantity DECIMAL(18,8) NOT NULL,
    fee DECIMAL(18,8) NOT NULL DEFAULT 0,
    executed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    order_id VARCHAR(64)
);
