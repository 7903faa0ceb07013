"""Schemathesis hooks for ``tests/test_contract_fuzz.py`` (loaded by ``SCHEMATHESIS_HOOKS``).

The fuzz run signs in once; an edit of the signed-in account itself (a new password or role,
deactivation) would end its session and turn every later call into a 401, so such cases are
dropped. ``SANSHE_FUZZ_ACCOUNTS`` lists the ids of the signed-in accounts (every demo role).
"""

from __future__ import annotations

import os

import schemathesis

ACCOUNTS = frozenset(int(i) for i in os.environ.get("SANSHE_FUZZ_ACCOUNTS", "").split(",") if i)


@schemathesis.hook
def filter_case(context, case) -> bool:
    if case.method.upper() == "PATCH" and case.path == "/api/v1/users/{user_id}":
        return (case.path_parameters or {}).get("user_id") not in ACCOUNTS
    return True
