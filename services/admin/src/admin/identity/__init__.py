"""Users of a tenant, provisioned in the identity provider."""
