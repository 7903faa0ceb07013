"""SQLAlchemy 2 models, one module per aggregate. Importing this package registers them all."""

from models.area import Area, AreaKind, Place, PlaceKind
from models.attachment import Attachment, AttachmentKind, AttachmentStage
from models.base import Base, UTCDateTime, utcnow
from models.call import Call, CallDirection, Disposition, call_order
from models.callback import Callback, CallbackReason, CallbackStatus, CallOutcome
from models.catalogue import Category, ClockKind, Item, SlaClass
from models.fact import CallFact, OrderFact
from models.inbox import CallEventInbox, InboxState
from models.open311 import Open311Key, Open311KeyUse, Open311Submission, SubmissionStatus
from models.order import (
    OPEN_STATUSES,
    Channel,
    DispatchMode,
    Offer,
    OfferStatus,
    Order,
    OrderEvent,
    OrderStatus,
    Priority,
    Rating,
    RatingOutcome,
    Supervision,
)
from models.outbox import OutboxChannel, OutboxMessage, OutboxStatus
from models.provider import Provider, ProviderCommunity, ProviderKind, ProviderService, ProviderStatus
from models.resident import PhoneKind, Resident, ResidentAccount, ResidentPhone
from models.security import AccessRecord, LoginAttempt, ResidentSignInCode, StreamTicket
from models.system import (
    CalendarDay,
    CalendarYear,
    IdempotencyKey,
    InboundReceipt,
    Lease,
    LiveEvent,
    OrderCounter,
)
from models.user import Role, User
from models.visit import CareVisit, Frequency, PlanType, VisitOutcome, VisitPlan

__all__ = [
    "CareVisit",
    "Frequency",
    "PlanType",
    "VisitOutcome",
    "VisitPlan",
    "OPEN_STATUSES",
    "AccessRecord",
    "LoginAttempt",
    "StreamTicket",
    "Area",
    "AreaKind",
    "Attachment",
    "AttachmentKind",
    "AttachmentStage",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "Call",
    "CallEventInbox",
    "CallDirection",
    "CallOutcome",
    "Callback",
    "CallbackReason",
    "CallbackStatus",
    "Category",
    "Channel",
    "ClockKind",
    "DispatchMode",
    "Disposition",
    "IdempotencyKey",
    "InboxState",
    "InboundReceipt",
    "Item",
    "Lease",
    "LiveEvent",
    "Offer",
    "OfferStatus",
    "Order",
    "CallFact",
    "OrderFact",
    "OrderCounter",
    "OrderEvent",
    "OrderStatus",
    "Open311Key",
    "Open311KeyUse",
    "Open311Submission",
    "OutboxChannel",
    "OutboxMessage",
    "OutboxStatus",
    "PhoneKind",
    "Place",
    "PlaceKind",
    "Priority",
    "Provider",
    "ProviderCommunity",
    "ProviderKind",
    "ProviderService",
    "ProviderStatus",
    "Rating",
    "RatingOutcome",
    "Resident",
    "ResidentAccount",
    "ResidentPhone",
    "ResidentSignInCode",
    "Role",
    "SlaClass",
    "SubmissionStatus",
    "Supervision",
    "UTCDateTime",
    "User",
    "call_order",
    "utcnow",
]
