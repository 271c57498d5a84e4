"""The partner directory (from tenant.* events) and sharing agreements (agreement.*)."""
