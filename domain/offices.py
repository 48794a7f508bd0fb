"""Which office a response belongs to once CCD has said where its case is managed."""

from __future__ import annotations

from collections.abc import Mapping

# Scotland's reform cases carry 80, but are managed in Glasgow.
_CODE_ALIASES = {80: 41}


def office_code_for(
    managing_office: str | None, case_number: str | None, codes_by_name: Mapping[str, int]
) -> int | None:
    """The office named by CCD's managingOffice, else the one the case number starts with."""
    if managing_office:
        for name, code in codes_by_name.items():
            if name.casefold() == managing_office.strip().casefold():
                return code
    prefix = (case_number or "")[:2]
    if not prefix.isdigit():
        return None
    code = _CODE_ALIASES.get(int(prefix), int(prefix))
    return code if code in codes_by_name.values() else None
