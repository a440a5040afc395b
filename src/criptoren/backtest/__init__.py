"""``criptoren backtest``: run a strategy over recorded candles with candle-level fills."""
