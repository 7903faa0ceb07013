"""The baseline for the intake benchmark: a FastAPI endpoint that inserts one row and returns it.

Same server (uvicorn), same database engine settings (WAL, BEGIN IMMEDIATE) as sanshe, so the
ratio measures what sanshe's intake does on top of "receive JSON, write a row, answer JSON".
"""

from __future__ import annotations

import sys
from datetime import datetime

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from dispatch.db import make_engine, make_sessionmaker
from models.base import UTCDateTime, utcnow


class _Base(DeclarativeBase):
    pass


class Note(_Base):
    __tablename__ = "bench_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NoteIn(BaseModel):
    caller_phone: str
    description: str


def make_app(database_url: str) -> FastAPI:
    engine = make_engine(database_url)
    _Base.metadata.create_all(engine)
    sessions = make_sessionmaker(engine)
    app = FastAPI()

    @app.post("/notes", status_code=201)
    def create(body: NoteIn) -> dict[str, object]:
        with sessions() as s:
            note = Note(phone=body.caller_phone, text=body.description)
            s.add(note)
            s.commit()
            return {"id": note.id, "phone": note.phone, "text": note.text}

    return app


if __name__ == "__main__":
    uvicorn.run(make_app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
