"""Adapters to Binance (REST now; streams live in ``criptoren.market``)."""
