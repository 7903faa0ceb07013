"""The lifecycle table (pure)."""

from __future__ import annotations

import pytest

from dispatch.orders.state import TRANSITIONS, Action, IllegalTransition, allowed_actions, next_status
from models import OrderStatus as S

LEGAL = [
    (Action.OFFER, S.RECEIVED, S.OFFERED),
    (Action.ACCEPT, S.OFFERED, S.ACCEPTED),
    (Action.DECLINE, S.OFFERED, S.RECEIVED),
    (Action.EXPIRE, S.OFFERED, S.RECEIVED),
    (Action.WITHDRAW, S.OFFERED, S.RECEIVED),
    (Action.CHECK_IN, S.ACCEPTED, S.IN_SERVICE),
    (Action.COMPLETE, S.ACCEPTED, S.COMPLETED),
    (Action.COMPLETE, S.IN_SERVICE, S.COMPLETED),
    (Action.COMPLETE_DIRECT, S.RECEIVED, S.COMPLETED),
    (Action.CLOSE, S.COMPLETED, S.CLOSED),
    (Action.REOPEN, S.COMPLETED, S.RECEIVED),
    (Action.REOPEN, S.CLOSED, S.RECEIVED),
    *[(Action.CANCEL, s, S.CANCELLED) for s in (S.RECEIVED, S.OFFERED, S.ACCEPTED, S.IN_SERVICE)],
]


@pytest.mark.parametrize(("action", "current", "target"), LEGAL)
def test_legal(action: Action, current: S, target: S) -> None:
    assert next_status(action, current) == target


def test_everything_else_is_illegal() -> None:
    legal = {(a, c) for a, c, _ in LEGAL}
    assert len(legal) == sum(len(sources) for sources, _ in TRANSITIONS.values())
    for action in Action:
        for current in S:
            if (action, current) in legal:
                continue
            with pytest.raises(IllegalTransition) as err:
                next_status(action, current)
            assert current.value in str(err.value)


def test_terminal_states() -> None:
    assert allowed_actions(S.CANCELLED) == []
    assert allowed_actions(S.CLOSED) == [Action.REOPEN]
