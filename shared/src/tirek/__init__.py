"""Tirek shared kernel.

The small surface every service builds on: ``events`` (envelope and contracts per producer),
``messaging`` (broker, streams, outbox, inbox, dead letters), ``auth`` (token verification,
principal, roles), ``db`` (engines, unit of work, tenant scoping, row-level security),
``telemetry``, ``web`` (application factory, problem details, health), ``devidp`` (the
development OIDC issuer), ``localstack`` (local NATS and PostgreSQL) and ``testing`` (pytest
fixtures). It holds no business rule of any one service.
"""
