"""The persistent spend record: :class:`~synapsekit.SpendLedger` (a SQLite sink) and ``synapsekit report``."""
