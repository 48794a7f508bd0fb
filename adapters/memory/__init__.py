"""In-memory adapters: fast fakes for tests, and a store for embedding without a database.

They keep the ports' promises: a unit of work sees its own writes, keeps none of them
unless committed, and refuses a second command under one uuid or a second pending
export of a response to a system, as the SQL schema's unique keys do.
"""

from adapters.memory.store import InMemoryStore, Work
from adapters.memory.unit_of_work import InMemoryUnitOfWork

__all__ = ["InMemoryStore", "InMemoryUnitOfWork", "Work"]
