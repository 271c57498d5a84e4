"""Returns planned on an accepted referral, and the confirmation of arrival."""
