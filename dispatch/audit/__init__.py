"""The access trail: every read of a resident's personal data (``service.record``), and the
admins' view of it (``api``)."""
