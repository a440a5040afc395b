"""Criptoren: conditional orders over Binance spot, for many clients."""

__version__ = "0.1.0"
