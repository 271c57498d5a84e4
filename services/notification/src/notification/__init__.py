"""Tirek notification: who hears of what, by which channel, in their language.

Rooms: ``rules`` (event type -> recipients -> template, data seeded by migration, switchable
per tenant), ``recipients`` (an NGO's staff, languages, addresses, digest preferences),
``channels`` (the plugin interface and the shipped plugins: inbox, email, webhook, Telegram),
``templates`` (Jinja2 + gettext catalogs), ``deliveries`` (planning from events, the
dispatcher with retries and digests), ``inbox`` (the in-app inbox), ``tenants`` (the directory
kept from ``tenant.*`` events).
"""
