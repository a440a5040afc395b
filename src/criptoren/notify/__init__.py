"""Notification adapters: the delivery worker and its webhook, e-mail and apprise senders."""
