"""Pure domain logic: decimals, exchange filters, trigger rule, positions. No I/O here."""
