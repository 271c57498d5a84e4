"""The message thread the two NGOs of a referral exchange."""
