"""Bulk upserts of external systems and responses, all or nothing, for `load` and `seed`.

A dataset is written in one transaction. Rows are matched by `id` (explicit ids are
kept) or by `reference` (ids are left to the database); a matched row is updated in
place, its respondent and representative rows included, so loading twice is harmless.
Rows are written the original's way: each person's address is a row of `addresses`
that the person's `address_id` points to, and yes/no answers the original keeps as
text are written "true" or "false".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.tables import (
    ADDRESS_FIELDS,
    addresses,
    external_system_configurations,
    external_systems,
    offices,
    representatives,
    respondents,
    responses,
)
from application.loading import (
    DataLoader,
    Dataset,
    ExternalSystemRecord,
    RecordProblem,
    Refused,
    ResponseRecord,
    UpsertBy,
    Written,
)

_IN_CHUNK = 5_000  # well under SQLite's and PostgreSQL's limits on bound parameters


class SqlAlchemyDataLoader(DataLoader):
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def load(self, dataset: Dataset, now: datetime, upsert_by: UpsertBy = "id") -> Written | Refused:
        return load(self.engine, dataset, now, upsert_by)


def load(engine: sa.Engine, dataset: Dataset, now: datetime, upsert_by: UpsertBy = "id") -> Written | Refused:
    """Upsert `dataset` in one transaction; when any record is refused, nothing is written."""
    with engine.begin() as connection:
        office_ids = _office_ids(connection)
        problems = _office_problems(dataset.responses, office_ids)
        if upsert_by == "id":
            problems += _taken_references(connection, external_systems, "external_systems", dataset.external_systems)
            problems += _taken_references(connection, responses, "responses", dataset.responses)
        if problems:
            return Refused(tuple(problems))
        new_systems = _upsert_systems(connection, dataset.external_systems, now, upsert_by)
        configurations = _upsert_configurations(connection, dataset.external_systems, now)
        new_responses = _upsert_responses(connection, dataset.responses, office_ids, now, upsert_by)
        if upsert_by == "id":
            _advance_id_sequences(connection, dataset)
    return Written(len(dataset.external_systems), new_systems, configurations, len(dataset.responses), new_responses)


# --- checks, before anything is written ---


def _office_ids(connection: sa.Connection) -> dict[int, int]:
    return dict(connection.execute(sa.select(offices.c.code, offices.c.id)).all())


def _office_problems(records: Sequence[ResponseRecord], office_ids: dict[int, int]) -> list[RecordProblem]:
    return [
        RecordProblem("responses", index, _unknown_office(record))
        for index, record in enumerate(records)
        if record.effective_office_code not in office_ids
    ]


def _unknown_office(record: ResponseRecord) -> str:
    source = "" if record.office_code is not None else " (the first two digits of the reference)"
    return f"office code {record.effective_office_code}{source} is not a known office"


def _taken_references(connection, table: sa.Table, collection: str, records) -> list[RecordProblem]:
    by_reference = {record.reference: index for index, record in enumerate(records)}
    found = _select_in(connection, sa.select(table.c.reference, table.c.id), table.c.reference, list(by_reference))
    owner = {"external_systems": "external system", "responses": "response"}[collection]
    return [
        RecordProblem(collection, by_reference[reference], f"reference {reference} already belongs to {owner} {row_id}")
        for reference, row_id in found
        if row_id != records[by_reference[reference]].id
    ]


# --- writes ---


def _upsert_systems(connection, records: Sequence[ExternalSystemRecord], now, upsert_by: UpsertBy) -> int:
    if not records:
        return 0
    keys = [getattr(record, upsert_by) for record in records]
    existing = {
        key
        for (key,) in _select_in(
            connection, sa.select(external_systems.c[upsert_by]), external_systems.c[upsert_by], keys
        )
    }
    rows = [_system_row(record, now, upsert_by) for record in records]
    _upsert(connection, external_systems, rows, [upsert_by])
    return len(set(keys) - existing)


def _system_row(record: ExternalSystemRecord, now: datetime, upsert_by: UpsertBy) -> dict:
    row = attrs.asdict(record, recurse=False, filter=lambda a, _v: a.name != "configurations")
    if upsert_by != "id":
        del row["id"]
    return {**row, "office_codes": list(record.office_codes), "created_at": now, "updated_at": now}


def _upsert_configurations(connection, records: Sequence[ExternalSystemRecord], now: datetime) -> int:
    """Each (system, key) updated in place or added: the original has no unique key on them."""
    references = [record.reference for record in records]
    query = sa.select(external_systems.c.reference, external_systems.c.id)
    system_ids = dict(_select_in(connection, query, external_systems.c.reference, references))
    rows = [
        {
            **attrs.asdict(entry),
            "external_system_id": system_ids[record.reference],
            "created_at": now,
            "updated_at": now,
        }
        for record in records
        for entry in record.configurations
    ]
    table = external_system_configurations
    query = sa.select(table.c.external_system_id, table.c.key, table.c.id)
    current = {
        (system, key): row_id
        for system, key, row_id in _select_in(connection, query, table.c.external_system_id, list(system_ids.values()))
    }
    _write_rows(connection, table, rows, [current.get((row["external_system_id"], row["key"])) for row in rows], now)
    return len(rows)


def _upsert_responses(connection, records: Sequence[ResponseRecord], office_ids, now, upsert_by: UpsertBy) -> int:
    if not records:
        return 0
    keys = [getattr(record, upsert_by) for record in records]
    query = sa.select(responses.c[upsert_by], responses.c.respondent_id, responses.c.representative_id)
    existing = {row[0]: row for row in _select_in(connection, query, responses.c[upsert_by], keys)}
    current = [existing.get(key) for key in keys]
    old_respondent_ids = [row.respondent_id if row else None for row in current]
    old_representative_ids = [row.representative_id if row else None for row in current]
    respondent_ids = _write_people(connection, respondents, [r.respondent for r in records], old_respondent_ids, now)
    representative_ids = _write_people(
        connection, representatives, [r.representative for r in records], old_representative_ids, now
    )
    rows = [
        _response_row(record, people, office_ids[record.effective_office_code], now, upsert_by)
        for record, people in zip(records, zip(respondent_ids, representative_ids, strict=True), strict=True)
    ]
    if upsert_by == "id":
        _upsert(connection, responses, rows, ["id"])
    else:  # no unique key on the original's references: update the rows found, add the others
        found = dict(
            _select_in(connection, sa.select(responses.c.reference, responses.c.id), responses.c.reference, keys)
        )
        _write_rows(connection, responses, rows, [found.get(key) for key in keys], now)
    _delete_unused_representatives(connection, old_representative_ids, representative_ids)
    return len(set(keys) - set(existing))


def _response_row(record: ResponseRecord, people: tuple, office_id: int, now, upsert_by: UpsertBy) -> dict:
    not_columns = ("respondent", "representative", "office_code")
    row = _as_columns(responses, attrs.asdict(record, recurse=False, filter=lambda a, _v: a.name not in not_columns))
    if upsert_by != "id":
        del row["id"]
    respondent_id, representative_id = people
    return {
        **row,
        "respondent_id": respondent_id,
        "representative_id": representative_id,
        "office_id": office_id,
        "created_at": now,
        "updated_at": now,
    }


def _write_people(connection, table: sa.Table, people: Sequence, current_ids: Sequence, now) -> list[int | None]:
    """Write each person and their address; the people's ids, None where no person."""
    ids = [current if person is not None else None for person, current in zip(people, current_ids, strict=True)]
    query = sa.select(table.c.id, table.c.address_id)
    current_addresses = dict(_select_in(connection, query, table.c.id, [i for i in ids if i is not None]))
    address_ids = _write_rows(
        connection, addresses, [_address_row(person) for person in people], [current_addresses.get(i) for i in ids], now
    )
    rows = [
        None if person is None else {**_person_row(table, person), "address_id": address_id}
        for person, address_id in zip(people, address_ids, strict=True)
    ]
    return _write_rows(connection, table, rows, ids, now)


def _address_row(person) -> dict | None:
    if person is None:
        return None
    return {field.removeprefix("address_"): getattr(person, field) for field in ADDRESS_FIELDS}


def _person_row(table: sa.Table, person) -> dict:
    fields = attrs.asdict(person)
    return _as_columns(table, {name: value for name, value in fields.items() if name not in ADDRESS_FIELDS})


def _as_columns(table: sa.Table, row: dict) -> dict:
    """`row` with the booleans of text columns as the text Rails writes for them."""
    return {
        name: _as_text(value) if isinstance(value, bool) and _is_text(table.c[name]) else value
        for name, value in row.items()
    }


def _is_text(column: sa.Column) -> bool:
    return isinstance(column.type, sa.String)


def _as_text(value: bool) -> str:
    return "true" if value else "false"


def _write_rows(connection, table: sa.Table, rows: Sequence[dict | None], current_ids: Sequence, now) -> list:
    """Update the rows that have an id, insert the others; their ids, None where no row."""
    ids = [current if row is not None else None for row, current in zip(rows, current_ids, strict=True)]
    updates = [{**row, "row_id": i, "updated_at": now} for row, i in zip(rows, ids, strict=True) if i is not None]
    updates = [{name: value for name, value in row.items() if name not in ("id", "created_at")} for row in updates]
    if updates:
        connection.execute(sa.update(table).where(table.c.id == sa.bindparam("row_id")), updates)
    missing = [index for index, row in enumerate(rows) if row is not None and ids[index] is None]
    if missing:
        inserts = [{"created_at": now, **rows[index], "updated_at": now} for index in missing]
        inserted = connection.scalars(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), inserts)
        for index, new_id in zip(missing, inserted.all(), strict=True):
            ids[index] = new_id
    return ids


def _delete_unused_representatives(connection, old_ids: Sequence, new_ids: Sequence) -> None:
    dropped = [old for old, new in zip(old_ids, new_ids, strict=True) if old is not None and new is None]
    used = sa.exists().where(responses.c.representative_id == representatives.c.id)
    for chunk in _chunks(dropped):
        unused = sa.select(representatives.c.id, representatives.c.address_id).where(
            representatives.c.id.in_(chunk), ~used
        )
        rows = connection.execute(unused).all()
        if rows:
            connection.execute(sa.delete(representatives).where(representatives.c.id.in_([row.id for row in rows])))
            address_ids = [row.address_id for row in rows if row.address_id is not None]
            connection.execute(sa.delete(addresses).where(addresses.c.id.in_(address_ids)))


def _upsert(connection: sa.Connection, table: sa.Table, rows: list[dict], conflict_columns: list[str]) -> None:
    if not rows:
        return
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[connection.dialect.name](table)
    kept = {"id", "created_at", *conflict_columns}
    changes = {name: insert.excluded[name] for name in rows[0] if name not in kept}
    connection.execute(insert.on_conflict_do_update(index_elements=conflict_columns, set_=changes), rows)


def _advance_id_sequences(connection: sa.Connection, dataset: Dataset) -> None:
    # Rows inserted with explicit ids leave PostgreSQL's sequences behind: move each to the
    # largest id (never backwards) so that rows inserted later without an id do not collide.
    # SQLite needs nothing: it gives a new row max(id) + 1.
    if connection.dialect.name != "postgresql":
        return
    for table, records in ((external_systems, dataset.external_systems), (responses, dataset.responses)):
        if records:
            sequence = sa.func.pg_get_serial_sequence(table.name, "id")
            largest = sa.func.greatest(sa.func.max(table.c.id), sa.func.nextval(sequence) - 1)
            connection.execute(sa.select(sa.func.setval(sequence, largest)))


def _select_in(connection, query: sa.Select, column: sa.ColumnElement, values: Sequence) -> Iterator[sa.Row]:
    for chunk in _chunks(list(values)):
        yield from connection.execute(query.where(column.in_(chunk)))


def _chunks(values: list) -> Iterator[list]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]
