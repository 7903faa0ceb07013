"""Payload validation errors said in Chinese: the API's field names and what pydantic's errors mean.

The 422 handler (``dispatch.app``) keeps its English ``detail`` ("description: String should have
at least 1 character") and adds :func:`validation_message` beside it ("诉求描述：不能为空"). A
validator that raises :class:`dispatch.errors.InvalidValue` has its Chinese ``message`` used as it
is; other error types are put in words here by their pydantic ``type`` and ``ctx``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Every field and parameter name the API accepts (tests/test_error_messages.py checks the OpenAPI
# document against this), as the console labels it.
FIELD_LABELS = {
    "submission_id": "开放接口请求",
    "start_date": "开始日期",
    "service_request_id": "服务请求编号",
    "service_code": "服务编码",
    "rate_per_minute": "每分钟请求上限",
    "media_url": "图片链接",
    "long": "经度",
    "last_name": "姓",
    "key_id": "接口密钥",
    "jurisdiction_id": "辖区编号",
    "first_name": "名",
    "end_date": "结束日期",
    "email": "电子邮箱",
    "device_id": "设备编号",
    "contact": "联系人",
    "api_key": "接口密钥",
    "address_string": "地址",
    "address_id": "地址编号",
    "account_id": "账户编号",
    "file": "照片文件",
    "photo_id": "照片编号",
    "photo_ids": "办结照片",
    "stage": "拍摄环节",
    "signature": "居民签名",
    "image": "签名图片",
    "unable": "居民无法签名",
    "given": "居民已同意",
    "method": "同意方式",
    "lng": "经度",
    "access_token": "访问令牌",
    "action": "访问类型",
    "active": "启用状态",
    "address": "地址",
    "answers": "探访清单",
    "assignments": "派单方案",
    "call_id": "来电记录",
    "callback_id": "回拨记录",
    "caller": "来电号码",
    "caller_phone": "来电号码",
    "capacity": "接单容量",
    "categories": "服务类别",
    "category": "服务类别",
    "category_code": "所属类别",
    "channel": "受理渠道",
    "client_id": "客户端编号",
    "client_secret": "客户端密钥",
    "code": "编码",
    "comment": "评价内容",
    "communities": "服务社区",
    "community_id": "社区",
    "complete_limit": "办结时限",
    "consent": "授权同意",
    "coord_system": "坐标系",
    "day": "日期",
    "description": "诉求描述",
    "detail": "显示详情",
    "direction": "呼叫方向",
    "display_name": "显示名称",
    "disposition": "通话结果",
    "end": "结束日期",
    "explain": "显示排除原因",
    "extension": "分机号",
    "frequency": "探访频次",
    "from": "开始时间",
    "grant_type": "授权方式",
    "group_by": "分组方式",
    "home_visit": "是否上门",
    "Idempotency-Key": "幂等键（Idempotency-Key）",
    "inbox_id": "通话事件编号",
    "include_inactive": "包含已停用",
    "is_workday": "是否工作日",
    "item_code": "服务事项",
    "items": "服务事项",
    "keywords": "关键词",
    "kind": "类型",
    "last-event-id": "上次事件编号",
    "lat": "纬度",
    "layout": "格式",
    "limit": "每页条数",
    "lon": "经度",
    "message_id": "消息编号",
    "name": "名称",
    "name_en": "英文名称",
    "name_zh": "中文名称",
    "needs": "发现的需求",
    "note": "说明",
    "notice": "安全提示",
    "number": "工单号",
    "offset": "起始位置",
    "open": "是否在办",
    "operator": "坐席分机",
    "order_id": "工单",
    "organisation_id": "所属机构",
    "outcome": "回访结果",
    "overdue": "是否超时",
    "parent_id": "上级区域",
    "password": "密码",
    "period": "统计月份",
    "personal": "含个人信息",
    "phone": "电话",
    "preferred_from": "预约开始时间",
    "preferred_to": "预约结束时间",
    "plan_id": "探访计划",
    "plan_type": "计划类型",
    "priority": "优先级",
    "provider_id": "服务方",
    "q": "搜索词",
    "queue": "队列",
    "radius_km": "服务半径（公里）",
    "reason": "原因",
    "reopen": "申请重办",
    "resident_id": "居民",
    "resident_name": "居民姓名",
    "role": "角色",
    "scope": "授权范围",
    "sign_for_limit": "签收时限",
    "since": "起始时间",
    "sla_class": "时限类别",
    "stars": "评价星级",
    "start": "开始日期",
    "start_on": "开始日期",
    "state": "处理状态",
    "status": "状态",
    "success": "是否成功",
    "supervision": "督办等级",
    "tags": "标签",
    "text": "备注内容",
    "ticket": "推送凭证",
    "to": "结束时间",
    "user_id": "用户",
    "username": "用户名",
    "visit_id": "探访记录",
    "workdays": "调休上班日",
    "working_days": "延期工作日数",
    "working_hours": "工作时间",
    "year": "年份",
}

# FastAPI's first element of ``loc``: where the value came from, not a field.
_SOURCES = frozenset({"body", "query", "path", "header", "form", "cookie"})


def field_label(name: str) -> str:
    """The Chinese label of an API field (its own name when there is none)."""
    return FIELD_LABELS.get(name, name)


def where(loc: Sequence[object]) -> str:
    """``("body", "items", 2)`` → "服务事项第3项"; ``("body",)`` → "" (the payload as a whole)."""
    parts = list(loc[1:] if loc and loc[0] in _SOURCES else loc)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"第{part + 1}项"
        else:
            out += ("的" if out else "") + field_label(str(part))
    return out


def _choices(expected: str) -> str:
    """pydantic's "'phone', 'ivr' or 'sms'" → "phone、ivr、sms"."""
    found = re.findall(r"'([^']*)'", expected)
    return "、".join(found) if found else expected


def _number(value: object) -> str:
    """90.0 → "90"; 0.5 stays "0.5"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _given(err: Mapping[str, Any]) -> str:
    value = err.get("input")
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return ""
    text = str(value)
    return f"（当前为 {text}）" if text and len(text) <= 40 else ""


# Errors whose words need no numbers: by pydantic error type.
_PLAIN = {
    "missing": "必填",
    "extra_forbidden": "不接受此字段，请删去",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字",
    "decimal_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "string_type": "应为文字",
    "string_pattern_mismatch": "格式不正确",
    "list_type": "应为列表",
    "dict_type": "应为对象（JSON）",
    "model_type": "应为对象（JSON）",
    "model_attributes_type": "应为对象（JSON）",
    "json_invalid": "不是有效的 JSON",
    "json_type": "不是有效的 JSON",
    "date_parsing": "应为日期（如 2026-11-01）",
    "date_from_datetime_parsing": "应为日期（如 2026-11-01）",
    "date_type": "应为日期（如 2026-11-01）",
    "datetime_parsing": "应为 ISO 8601 时间（如 2026-11-01T08:00:00+08:00）",
    "datetime_from_date_parsing": "应为 ISO 8601 时间（如 2026-11-01T08:00:00+08:00）",
    "datetime_type": "应为 ISO 8601 时间（如 2026-11-01T08:00:00+08:00）",
    "time_parsing": "应为时间（如 08:30）",
    "url_parsing": "不是有效的网址",
    "url_scheme": "不是有效的网址",
}


def describe_error(err: Mapping[str, Any]) -> str:
    """What is wrong with one value, in Chinese, without naming the field."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        reason = ctx.get("error")
        message = getattr(reason, "message", None)
        return message if isinstance(message, str) and message else "取值无效"
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return "不能为空" if n == 1 else f"至少 {n} 个字"
    if kind == "string_too_long":
        return f"最多 {ctx.get('max_length')} 个字"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return "不能为空" if n == 1 else f"至少 {n} 项"
    if kind == "too_long":
        return f"最多 {ctx.get('max_length')} 项"
    if kind == "greater_than_equal":
        return f"不能小于 {_number(ctx.get('ge'))}{_given(err)}"
    if kind == "less_than_equal":
        return f"不能大于 {_number(ctx.get('le'))}{_given(err)}"
    if kind == "greater_than":
        return f"必须大于 {_number(ctx.get('gt'))}{_given(err)}"
    if kind == "less_than":
        return f"必须小于 {_number(ctx.get('lt'))}{_given(err)}"
    if kind in ("enum", "literal_error"):
        return f"可选值：{_choices(str(ctx.get('expected', '')))}{_given(err)}"
    return f"取值无效{_given(err)}"


def validation_message(errors: Iterable[Mapping[str, Any]]) -> str:
    """Every error of a 422, each as "字段：问题", joined with "；"."""
    parts = []
    for err in errors:
        kind = err.get("type")
        field = "" if kind == "json_invalid" else where(err.get("loc", ()))
        if not field and kind == "missing":
            parts.append("缺少请求内容")
        elif not field and kind in ("json_invalid", "model_attributes_type", "model_type", "dict_type"):
            parts.append("请求内容不是有效的 JSON 对象")
        else:
            what = describe_error(err)
            parts.append(f"{field}：{what}" if field else what)
    return "；".join(dict.fromkeys(parts)) or "提交的内容有误，请检查后重试"
