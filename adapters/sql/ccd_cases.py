"""What `fake-ccd --cases-from-database` reads: the cases the database's exports would look for."""

from __future__ import annotations

import sqlalchemy as sa
from attrs import frozen

from adapters.sql.tables import external_system_configurations, external_systems, offices, responses


@frozen
class CasesToServe:
    office_names: dict[int, str]  # by office code
    case_type_ids: list[str]  # of the systems exporting responses
    case_numbers: list[str]  # of every response


def cases_to_serve(engine: sa.Engine) -> CasesToServe:
    configuration = external_system_configurations
    case_types = (
        sa.select(configuration.c.value)
        .distinct()
        .join(external_systems, external_systems.c.id == configuration.c.external_system_id)
        .where(external_systems.c.export_responses.is_(True), configuration.c.key == "case_type_id")
        .order_by(configuration.c.value)
    )
    # A response without a case number has no case to serve (the worker asks for none).
    case_numbers = (
        sa.select(responses.c.case_number)
        .distinct()
        .where(responses.c.case_number.is_not(None), responses.c.case_number != "")
        .order_by(responses.c.case_number)
    )
    with engine.connect().execution_options(read_only=True) as connection:
        office_rows = connection.execute(sa.select(offices.c.code, offices.c.name))
        names = {code: name for code, name in office_rows}
        types = list(connection.execute(case_types).scalars())
        numbers = list(connection.execute(case_numbers).scalars())
    return CasesToServe(names, types, numbers)
