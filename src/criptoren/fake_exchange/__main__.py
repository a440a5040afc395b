"""``python -m criptoren.fake_exchange``."""

from criptoren.fake_exchange.cli import main

main()
