"""Persisted due dates: overdue referrals and returns, found by a scanner, survive restarts."""
