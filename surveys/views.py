"""The debtor's survey page, `/s/<token>/`, with its thank-you and opt-out pages.

Public pages opened from an SMS, on a phone, perhaps by someone else holding it:

- They read the invitation, its survey version and its response (`surveys.page_state`), never
  the contact, account or client, so no amount, creditor or word about money can reach them.
- One question per screen: the score, then the reason, then the client's extras. Each screen
  is a plain HTML form posted to the server, which keeps the answers (`response_record`), so
  the page works with JavaScript off and a debtor who leaves resumes where they stopped. The
  score alone already counts: it is stored as a partial response the moment it is sent.
- One invitation, one response: the service locks the invitation, and a second submit, a
  second tab or a race with an SMS reply gets "already answered" and stores nothing.
- Expired, closed and unknown links get a kind page (410 / 404), never a Django error.
- Cost: a GET is one prepared SELECT (plus one UPDATE the first time the link is opened). The
  score from the first screen is one statement (`response_start`); any other POST is that
  SELECT plus `response_record`. A question screen is rendered once per wording, language,
  step and given answer, with a mark where the link's token goes.
- A GET never changes anything that matters (link previewers fetch GETs): opting out takes a
  confirmation POST. A GET records only when the link was first opened and a chosen language.
- No cookies, so no CSRF token: the pages grant nothing through a cookie (no session, no
  login); the link's 128-bit token is the only credential, and a forger who knows it can post
  from anywhere, so a CSRF check would protect nothing. It would only refuse the debtors whose
  phone's in-app browser drops cookies. The referrer policy (same-origin) keeps the token from
  leaking to other sites, and the pages load nothing from elsewhere.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from surveys.definitions import Question, question_text
from surveys.forms import AnswerForm, answer_choices, scale_end_labels
from surveys.models import Invitation, InvitationStatus, OptOutEvent, ResponseChannel
from surveys.optouts import is_opted_out, opt_out_record
from surveys.page_state import PageAnswer, PageLink, page_link, questions_of
from surveys.page_text import LANGUAGE_NAMES, LANGUAGES, page_language, page_text
from surveys.responses import AlreadyAnswered, NotAnswerable, response_record, response_start

logger = logging.getLogger(__name__)

# Tokens are `secrets.token_urlsafe(16)` (22 characters); anything else is not looked up.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,32}")
# The page may be shown while these hold. SENDING: the SMS may reach the phone a moment before
# the dispatcher records it as sent.
OPEN_STATUSES = frozenset(
    {
        InvitationStatus.SENDING,
        InvitationStatus.SENT,
        InvitationStatus.PARTIAL,
        InvitationStatus.CATI,
    }
)
# Stand-in for the link's token in a cached screen (URL-safe, so reverse() keeps it).
LINK_MARK = "__survey_page_token__"


class PageState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"
    EXPIRED_PARTIAL = "expired_partial"
    CLOSED = "closed"


# What `never_cache` writes, without its per-request date formatting: no browser or proxy
# keeps a debtor's page (a shared phone, an operator's proxy).
NO_STORE = "max-age=0, no-cache, no-store, must-revalidate, private"


def no_store(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers["Cache-Control"] = NO_STORE
        return response

    return wrapped


def _spoken(response: HttpResponse, language: str) -> HttpResponse:
    """The page's language in its header too. The pages choose their language themselves (the
    link's, or the one the debtor picked) without activating Django's translation, so the
    locale middleware would otherwise label an Italian page with the site's default."""
    response.headers["Content-Language"] = language
    return response


class SeeOther(HttpResponseRedirect):
    """303: after a POST, the browser GETs the next screen (a reload never re-posts)."""

    status_code = 303


@functools.cache
def page_css() -> str:
    """The page's stylesheet, inlined: the first screen is one response, with no second
    round trip on a slow connection. Comments and indentation are dropped once per process."""
    found = finders.find("surveys/survey.css")
    path = found[0] if isinstance(found, list) else found
    if not path:
        return ""
    css = Path(path).read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    # Spaces around these never matter in CSS (unlike around ":" or "+", which may sit in a
    # descendant selector or in calc()).
    return re.sub(r"\s*([{};,])\s*", r"\1", re.sub(r"\s+", " ", css)).strip()


def _load(token: str) -> PageLink | None:
    return page_link(token) if TOKEN_RE.fullmatch(token) else None


def _state(link: PageLink) -> PageState:
    answer = link.answer
    if answer is not None and answer.complete:
        return PageState.ANSWERED
    scored = answer is not None and answer.score is not None
    if link.status == InvitationStatus.EXPIRED or (
        link.status in OPEN_STATUSES and link.is_expired()
    ):
        return PageState.EXPIRED_PARTIAL if scored else PageState.EXPIRED
    if link.status not in OPEN_STATUSES or link.survey_version_id is None:
        return PageState.CLOSED
    return PageState.OPEN


def _requested_language(request: HttpRequest) -> str | None:
    code = request.GET.get("lang", "")
    return code if code in LANGUAGES else None


def _privacy(text: dict[str, str]) -> list[str]:
    """Who holds the answers and whom to ask about them, when the agency has said so
    (PRIVACY_CONTROLLER, PRIVACY_CONTACT; `manage.py check --deploy` warns while unset)."""
    lines = []
    if settings.PRIVACY_CONTROLLER:
        lines.append(text["privacy_controller"].format(controller=settings.PRIVACY_CONTROLLER))
    if settings.PRIVACY_CONTACT:
        lines.append(text["privacy_rights"].format(contact=settings.PRIVACY_CONTACT))
    return lines


def _base_context(*, language: str, token: str | None, step: int | None) -> dict[str, Any]:
    extra = f"&step={step}" if step else ""
    text = page_text(language)
    return {
        "lang": language,
        "t": text,
        "privacy": _privacy(text),
        "css": page_css(),
        "languages": [
            {"code": code, "name": LANGUAGE_NAMES[code], "href": f"?lang={code}{extra}"}
            for code in LANGUAGES
        ],
        "stop_url": reverse("surveys:stop", args=[token]) if token else "",
    }


def _message(
    request: HttpRequest,
    *,
    language: str,
    link: PageLink | None,
    kind: str,
    body: str | None = None,
    status: int = 200,
) -> HttpResponse:
    text = page_text(language)
    context = _base_context(language=language, token=link.token if link else None, step=None)
    context.update(heading=text[f"{kind}_title"], body=text[body or f"{kind}_body"])
    return _spoken(render(request, "surveys/message.html", context, status=status), language)


def _not_open(
    request: HttpRequest, link: PageLink, state: PageState, language: str, *, post: bool
) -> HttpResponse:
    if state == PageState.ANSWERED:
        # A second submit conflicts with the stored response; reopening the link is fine.
        status = 409 if post else 200
        return _message(request, language=language, link=link, kind="answered", status=status)
    if state == PageState.EXPIRED_PARTIAL:
        return _message(
            request,
            language=language,
            link=link,
            kind="expired",
            body="expired_partial_body",
            status=410,
        )
    kind = "expired" if state == PageState.EXPIRED else "closed"
    return _message(request, language=language, link=link, kind=kind, status=410)


def _answered(question: Question, answer: PageAnswer) -> bool:
    key = question["key"]
    if key == "nps":
        return answer.score is not None
    if key == "reason":
        return bool(answer.reason)
    return key in answer.answers


def _resume_step(questions: list[Question], answer: PageAnswer | None) -> int:
    """The screen after the last one answered (a skipped optional question counts as seen
    once a later one is answered)."""
    if answer is None or answer.score is None:
        return 1
    last = max(n for n, q in enumerate(questions, start=1) if _answered(q, answer))
    return min(last + 1, len(questions))


def _current_answer(question: Question, answer: PageAnswer | None) -> str:
    if answer is None:
        return ""
    key = question["key"]
    if key == "nps":
        return "" if answer.score is None else str(answer.score)
    if key == "reason":
        return answer.reason
    value = answer.answers.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _screen(
    questions: list[Question],
    *,
    token: str,
    language: str,
    step: int,
    current: str,
    error: str,
) -> str:
    question = questions[step - 1]
    text = page_text(language)
    key = question["key"]
    low, high = scale_end_labels(language)
    options = []
    for value, label in answer_choices(question, language):
        hint = ""
        if question["kind"] == "nps":
            hint = low if value == "0" else high if value == "10" else ""
        options.append(
            {
                "value": value,
                "label": label,
                "id": f"{key}-{value}",
                "checked": value == current,
                "hint": hint,
            }
        )
    page_url = reverse("surveys:page", args=[token])
    progress = text["progress"].format(n=step, total=len(questions))
    context = _base_context(language=language, token=token, step=step)
    context.update(
        action=page_url,
        step=step,
        is_last=step == len(questions),
        can_finish=_can_finish(questions, step),
        back_url=f"{page_url}?step={step - 1}" if step > 1 else "",
        progress=progress,
        key=key,
        kind=question["kind"],
        required=bool(question.get("required")),
        question_text=question_text(question, language),
        options=options,
        current=current,
        error=error,
        low=low,
        high=high,
        page_title=f"{text['error_prefix']} {progress}" if error else progress,
    )
    return render_to_string("surveys/question.html", context)


@functools.lru_cache(maxsize=512)
def _cached_screen(wording: str, language: str, step: int, current: str) -> str:
    """A screen as every debtor with this wording, language, step and answer sees it, with
    a mark for the link's token: rendering the template costs more than the rest of the
    request together."""
    return _screen(
        questions_of(wording),
        token=LINK_MARK,
        language=language,
        step=step,
        current=current,
        error="",
    )


def _render_question(
    request: HttpRequest,
    link: PageLink,
    *,
    language: str,
    step: int,
    form: AnswerForm | None = None,
) -> HttpResponse:
    questions = link.questions
    question = questions[step - 1]
    if form is None:
        current = _current_answer(question, link.answer)
        if question["kind"] != "text" or not current:
            # Choices and empty text boxes are few: cache them. Free text is the debtor's own.
            html = _cached_screen(link.wording, language, step, current)
            return _spoken(HttpResponse(html.replace(LINK_MARK, link.token)), language)
        error = ""
    else:
        current, error = str(form.data.get(question["key"], "")), form.error_text()
    html = _screen(
        questions,
        token=link.token,
        language=language,
        step=step,
        current=current,
        error=error,
    )
    return _spoken(HttpResponse(html), language)


def _can_finish(questions: list[Question], step: int) -> bool:
    """After the score, a debtor may end the survey when this and every later question are
    optional: the score already counts (UX: "a debtor can stop after the score")."""
    return 1 < step < len(questions) and not any(q.get("required") for q in questions[step - 1 :])


def _parse_step(raw: str | None, total: int) -> int | None:
    try:
        step = int(raw or "")
    except ValueError:
        return None
    return step if 1 <= step <= total else None


def _not_found(request: HttpRequest) -> HttpResponse:
    # The browser's language when it names one; with no Accept-Language at all, the page's
    # own default (Italian), not the staff site's.
    browser = (
        getattr(request, "LANGUAGE_CODE", None) if request.headers.get("Accept-Language") else None
    )
    language = page_language(_requested_language(request), browser)
    return _message(request, language=language, link=None, kind="notfound", status=404)


@csrf_exempt
@no_store
@require_http_methods(["GET", "HEAD", "POST"])
def survey_page(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST" and _first_score(request, token):
        return SeeOther(f"{reverse('surveys:page', args=[token])}?step=2")
    link = _load(token)
    if link is None:
        return _not_found(request)
    requested = _requested_language(request)
    language = page_language(requested, link.language)
    state = _state(link)
    if request.method == "POST":
        return _submit(request, link, state=state, language=language)
    if state != PageState.OPEN:
        return _not_open(request, link, state, language, post=False)
    if request.method == "GET":
        _note_visit(link, language=requested)
    answer = link.answer
    if answer is None or answer.score is None:
        # Nothing after the score is shown before the score is given.
        step = 1
    else:
        step = _parse_step(request.GET.get("step"), len(link.questions)) or _resume_step(
            link.questions, answer
        )
    return _render_question(request, link, language=language, step=step)


SCORES = frozenset(str(n) for n in range(11))


def _first_score(request: HttpRequest, token: str) -> bool:
    """The score sent from the first screen of a fresh link, stored in one statement before
    anything is read (`response_start`): the busiest write of the page. False, with nothing
    changed, sends the POST the general way, which says what is wrong if anything is."""
    score = request.POST.get("nps", "")
    return (
        request.POST.get("step") == "1"
        and score in SCORES
        and TOKEN_RE.fullmatch(token) is not None
        and response_start(token=token, channel=ResponseChannel.WEB, score=int(score))
    )


def _note_visit(link: PageLink, *, language: str | None) -> None:
    """First opening (the SMS funnel's "opened") and a language the debtor chose, kept on the
    invitation so the choice survives a reload without a cookie. One UPDATE, only when
    something changed."""
    changes: dict[str, Any] = {}
    if link.opened_at is None:
        changes["opened_at"] = timezone.now()
    if language and language != link.language:
        changes["language"] = language
    if changes:
        Invitation.objects.filter(pk=link.id).update(**changes)


def _submit(
    request: HttpRequest, link: PageLink, *, state: PageState, language: str
) -> HttpResponse:
    if state != PageState.OPEN:
        return _not_open(request, link, state, language, post=True)
    questions = link.questions
    page_url = reverse("surveys:page", args=[link.token])
    step = _parse_step(request.POST.get("step"), len(questions))
    scored = link.answer is not None and link.answer.score is not None
    if step is None or (step > 1 and not scored):
        return SeeOther(page_url)
    question = questions[step - 1]
    form = AnswerForm(request.POST, question=question, language=language)
    if not form.is_valid():
        return _render_question(request, link, language=language, step=step, form=form)
    # "Finish here": the score is in and nothing left is required, so the debtor may stop
    # and still reach the thank-you page with a complete answer.
    finish = request.POST.get("finish") == "1" and _can_finish(questions, step)
    complete = step == len(questions) or finish
    try:
        response_record(
            invitation_id=link.id,
            channel=ResponseChannel.WEB,
            answers={question["key"]: form.answer()},
            complete=complete,
        )
    except AlreadyAnswered:
        return _not_open(request, link, PageState.ANSWERED, language, post=True)
    except NotAnswerable:
        return _not_open(request, link, PageState.CLOSED, language, post=True)
    except ValidationError as exc:
        # The form checked the same rules; reaching this means the survey changed under us.
        logger.warning("Survey page answer refused for invitation %s: %s", link.id, exc)
        form.add_error(question["key"], page_text(language)["error_generic"])
        return _render_question(request, link, language=language, step=step, form=form)
    if complete:
        return SeeOther(reverse("surveys:thanks", args=[link.token]))
    return SeeOther(f"{page_url}?step={step + 1}")


@no_store
@require_http_methods(["GET", "HEAD"])
def survey_thanks(request: HttpRequest, token: str) -> HttpResponse:
    link = _load(token)
    if link is None:
        return _not_found(request)
    language = page_language(_requested_language(request), link.language)
    if link.answer is None or not link.answer.complete:
        return HttpResponseRedirect(reverse("surveys:page", args=[link.token]))
    return _message(request, language=language, link=link, kind="thanks")


@csrf_exempt
@no_store
@require_http_methods(["GET", "HEAD", "POST"])
def survey_stop(request: HttpRequest, token: str) -> HttpResponse:
    """Stop these messages: a confirmation screen, then a POST. Works on expired and answered
    links too: a debtor may want out whatever became of the survey."""
    link = _load(token)
    if link is None:
        return _not_found(request)
    language = page_language(_requested_language(request), link.language)
    stop_url = reverse("surveys:stop", args=[link.token])
    if request.method == "POST":
        opt_out_record(
            phone_e164=link.phone_e164,
            source=OptOutEvent.Source.WEB,
            detail=f"survey page, invitation {link.id}",
        )
        return SeeOther(f"{stop_url}?done=1")
    if is_opted_out(link.phone_e164):
        # Already out (here, by SMS or by a caller): say so in any language the debtor
        # switches to, instead of asking again.
        return _message(request, language=language, link=None, kind="stopped")
    context = _base_context(language=language, token=None, step=None)
    context.update(action=stop_url, survey_url=reverse("surveys:page", args=[link.token]))
    return _spoken(render(request, "surveys/stop.html", context), language)
