"""Administrative areas (district → street office → community → grid) and the offline gazetteer."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, str_enum


class AreaKind(enum.StrEnum):
    DISTRICT = "district"  # 区
    STREET = "street"  # 街道 / 办事处
    COMMUNITY = "community"  # 社区
    GRID = "grid"  # 网格


class Area(Base):
    __tablename__ = "area"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AreaKind] = mapped_column(str_enum(AreaKind))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    lat: Mapped[float]
    lon: Mapped[float]
    # Grids carry the responsible grid worker (网格员).
    grid_worker_name: Mapped[str | None] = mapped_column(String(50))
    grid_worker_phone: Mapped[str | None] = mapped_column(String(20))

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class PlaceKind(enum.StrEnum):
    ROAD = "road"  # 路 / 街 / 巷
    COMPOUND = "compound"  # 小区 / 院
    BUILDING = "building"  # 号楼 / 栋
    LANDMARK = "landmark"  # 医院, 学校, 公园 …


class Place(Base):
    """One entry of the offline gazetteer the geocoder resolves address text against."""

    __tablename__ = "place"
    __table_args__ = (Index("ix_place_kind_name", "kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[PlaceKind] = mapped_column(str_enum(PlaceKind))
    name: Mapped[str] = mapped_column(String(120))
    # Other spellings, "|"-separated (e.g. 阳光花园|阳光小区).
    aliases: Mapped[str] = mapped_column(String(500), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("place.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"))
    lat: Mapped[float]
    lon: Mapped[float]
