"""Referrals: the aggregate, its state machine, its history and its share package."""
