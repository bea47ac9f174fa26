"""The DuckDB store: schema and migrations (``migrations``), connections shared between processes
(``connection``), batch writes (``writer``), and the trace query API (``query``, ``filter``,
``model``). Runs, models and the registry live beside it (``runs``, ``models``, ``registry``)."""
