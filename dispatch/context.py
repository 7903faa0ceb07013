"""What one running application holds: settings, database, clock and the long-lived services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch.clock import Clock
from dispatch.db import make_engine, make_sessionmaker
from dispatch.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    # Long-lived services wired in by create_app (suggester, geocoder, event hub, …).
    services: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> AppContext:
        engine = make_engine(settings.database_url)
        return cls(
            settings=settings, engine=engine, sessions=make_sessionmaker(engine), clock=clock or Clock()
        )

    def close(self) -> None:
        self.engine.dispose()
