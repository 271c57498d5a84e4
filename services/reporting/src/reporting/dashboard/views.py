"""``/dashboard``: server-rendered pages for people, signed in with the same OIDC tokens.

The login form exchanges the user's name and password for an access token at the issuer
(the password grant of the public web client, as any Keycloak client would) and keeps it in
an HttpOnly, SameSite=Strict cookie; every page verifies it like an API call would. The
figures come from the same queries, scopes and suppression as ``/v1/reports``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from reporting.dashboard.charts import Bar, bar_chart
from reporting.dashboard.i18n import LANGUAGES, words
from reporting.deps import Reading
from reporting.reports import queries
from reporting.reports.exports import MEDIA_TYPES, export
from reporting.reports.scope import CONSORTIUM_ROLES, NGO_ROLES, Filters, Scope
from reporting.reports.tables import ReportTable
from reporting.reports.views import ReportName
from tirek.auth import Principal
from tirek.auth.tokens import InvalidToken

router = APIRouter(prefix="/dashboard", include_in_schema=False)

COOKIE = "tirek_reporting_token"
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_COUNTRIES = ("KZ", "KG", "UZ")


def _language(request: Request, principal: Principal | None = None) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get("tirek_lang")
    if wanted in LANGUAGES:
        return wanted
    if principal is not None and principal.language in LANGUAGES:
        return principal.language
    return "ru"


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    language = context.setdefault("lang", _language(request))
    context.setdefault("t", words(language))
    context.setdefault("languages", LANGUAGES)
    response = HTMLResponse(_templates.get_template(template).render(**context), status_code=status)
    response.set_cookie("tirek_lang", language, samesite="strict", httponly=True)
    return response


async def _principal(request: Request) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return await request.app.state.token_verifier.verify(token)  # type: ignore[no-any-return]
    except InvalidToken:
        return None


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return _page(request, "login.html", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    username = (form.get("username") or [""])[0][:100]
    password = (form.get("password") or [""])[0][:200]
    issuer = request.app.state.settings.oidc_issuer
    token: str | None = None
    if username and password:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"{issuer}/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": "tirek-web",
                    "username": username,
                    "password": password,
                    "scope": "openid",
                },
            )
        if answer.status_code == 200:
            token = str(answer.json().get("access_token") or "") or None
    if token is None:
        return _page(request, "login.html", status=401, error=True)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.is_production,
        path="/dashboard",
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


def _filters(
    scope: Scope,
    country: str | None,
    date_from: str | None,
    date_to: str | None,
    project: str | None,
) -> Filters:
    """Lenient parsing for a form: anything unusable is simply not applied."""

    def day(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    return Filters(
        day(date_from),
        day(date_to),
        country if country in _COUNTRIES else None,
        None,
        project[:32] if project else None,
    )


def _scope(request: Request, principal: Principal) -> Scope | None:
    if not principal.has_any(*NGO_ROLES, *CONSORTIUM_ROLES):
        return None
    return Scope.of(principal, request.app.state.settings.suppression_threshold)


@router.get("", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    country: Annotated[str | None, Query()] = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    project: Annotated[str | None, Query()] = None,
) -> Response:
    principal = await _principal(request)
    if principal is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    language = _language(request, principal)
    scope = _scope(request, principal)
    if scope is None:
        return _page(request, "forbidden.html", status=403, lang=language)
    filters = _filters(scope, country, date_from, date_to, project)
    now = request.app.state.clock()
    async with Reading(request.app.state.sessions, scope) as session:
        summary = await queries.summary(session, scope, filters)
        assistance = await queries.assistance(session, scope, filters)
        referrals = await queries.referrals(session, scope, filters, now)
        indicators = await queries.indicators(session, scope, filters)
        series = await queries.timeseries(session, scope, filters, "assistance_records", "month")
    cases = _named(summary, "cases")
    records = _named(assistance, "assistance_records_by_type")
    funnel = _named(referrals, "referral_funnel_by_sender")
    monthly = series[0]
    query = {
        k: v
        for k, v in {
            "country": filters.country,
            "from": date_from,
            "to": date_to,
            "project": project,
        }.items()
        if v
    }
    return _page(
        request,
        "dashboard.html",
        lang=language,
        principal=principal,
        scope=scope,
        filters=filters,
        countries=_COUNTRIES,
        query=query,
        querystring=urlencode(query),
        headline={
            "cases_opened": _total(cases, 0),
            "cases_closed": _total(cases, 1),
            "assistance_records": records.total,
        },
        cases=cases,
        indicators=indicators[0],
        funnel_chart=bar_chart(
            [
                Bar(c, funnel.column_totals[i] if funnel.column_totals else None)
                for i, c in enumerate(funnel.columns)
            ],
            threshold=scope.threshold,
        ),
        ngo_chart=bar_chart(
            [Bar(r, cases.cells[i][0]) for i, r in enumerate(cases.rows)], threshold=scope.threshold
        ),
        series_chart=bar_chart(
            [
                Bar(r[:7], monthly.row_totals[i] if monthly.row_totals else None)
                for i, r in enumerate(monthly.rows)
            ],
            threshold=scope.threshold,
        ),
        reports=[name.value for name in ReportName if name is not ReportName.TIMESERIES],
    )


def _named(tables: list[ReportTable], name: str) -> ReportTable:
    return next(t for t in tables if t.name == name)


def _total(table: ReportTable, column: int) -> Any:
    return table.column_totals[column] if table.column_totals else None


@router.get("/export/{report}")
async def export_report(
    request: Request,
    report: ReportName,
    format: Annotated[str, Query()] = "csv",
    country: Annotated[str | None, Query()] = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    project: Annotated[str | None, Query()] = None,
) -> Response:
    """The export buttons: same report, same suppression, authenticated by the cookie."""
    principal = await _principal(request)
    if principal is None:
        return RedirectResponse("/dashboard/login", status_code=303)
    scope = _scope(request, principal)
    if scope is None:
        return _page(request, "forbidden.html", status=403)
    fmt = format if format in MEDIA_TYPES else "csv"
    filters = _filters(scope, country, date_from, date_to, project)
    now = request.app.state.clock()
    async with Reading(request.app.state.sessions, scope) as session:
        match report:
            case ReportName.SUMMARY:
                tables = await queries.summary(session, scope, filters)
            case ReportName.ASSISTANCE:
                tables = await queries.assistance(session, scope, filters)
            case ReportName.REFERRALS:
                tables = await queries.referrals(session, scope, filters, now)
            case ReportName.RETURNS:
                tables = await queries.returns(session, scope, filters, now)
            case ReportName.INDICATORS:
                tables = await queries.indicators(session, scope, filters)
            case _:
                tables = await queries.timeseries(
                    session, scope, filters, "assistance_records", "month"
                )
    extension = "csv" if fmt == "hxl" else fmt
    suffix = "-hxl" if fmt == "hxl" else ""
    return Response(
        export(tables, fmt),  # type: ignore[arg-type]
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="tirek-{report.value}{suffix}.{extension}"'
        },
    )
