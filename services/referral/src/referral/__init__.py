"""Tirek referral: referrals between NGOs, their saga with intake, returns, messages, directory."""
