"""The demo's survey history: the last weeks of the synthetic world replayed through the real
planner, dispatcher, SMS send path (the outbox), response recording and CATI queue, at
simulated instants, so the dashboards have honest data to show and the outbox and the CATI
queue have live work in them.

The planted truth: an operator's latent empathy (from the generator's manifest) raises the
scores their debtors give, and a debtor who pays after the contact is a little more satisfied.
Phone interviews run a little more extreme than web answers (a known mode effect). The
analytics must find these effects again, within their intervals.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from collections_link.demo_data import DemoManifest
from collections_link.models import Client, Payment
from surveys.channels.sms import sms_send
from surveys.dispatch import invitations_dispatch_batch, invitations_expire, invitations_fall_back
from surveys.models import (
    CallAttempt,
    CatiCase,
    InboundMessage,
    Invitation,
    InvitationStatus,
    OptOut,
    OptOutEvent,
    ResponseChannel,
    ReviewItem,
    SmsMessage,
    StatusEvent,
)
from surveys.models import Response as SurveyResponse
from surveys.planner import contacts_plan
from surveys.responses import AlreadyAnswered, NotAnswerable, response_record

# Surveys started this many days before the reference date; older contacts are history the
# programme never asked about.
HISTORY_DAYS = 42
# The planner and dispatcher run at these UTC hours of each simulated day (beat runs them
# every minute in production; a few passes a day are enough to replay a day).
PASSES_UTC = (8, 11, 14, 17)
# The demo's two callers work a shift at these passes.
CATI_HOURS_UTC = (11, 17)
RESPONSE_RATE = 0.34
SMS_REPLY_SHARE = 0.15
PARTIAL_SHARE = 0.12

REASONS: dict[str, dict[str, list[str]]] = {
    "it": {
        "promoter": [
            "Mi hanno ascoltato senza giudicarmi.",
            "Gentilissima, mi ha proposto una rata che posso pagare.",
            "Finalmente qualcuno che capisce la situazione.",
            "Cortesi e chiari, grazie.",
        ],
        "passive": [
            "Corretti, ma la telefonata è stata lunga.",
            "Tutto bene, anche se avrei voluto più tempo per decidere.",
            "Va bene così.",
        ],
        "detractor": [
            "Tono insistente, mi sono sentito sotto pressione.",
            "Mi hanno richiamato troppe volte. Scrivetemi a mario.rossi@example.com invece.",
            "Non mi hanno lasciato spiegare. Richiamatemi al 333 123 4567.",
            "Mi chiedevano 250,00 € subito, impossibile.",
        ],
    },
    "es": {
        "promoter": [
            "Me escucharon con paciencia.",
            "Muy amable, encontramos un plan de pagos posible.",
            "Trato humano y respetuoso.",
        ],
        "passive": [
            "Correcto, sin más.",
            "Bien, aunque la llamada fue larga.",
        ],
        "detractor": [
            "Me presionaron mucho.",
            "No me dejaron hablar. Mi IBAN es ES9121000418450200051332, cobren de ahí.",
            "Llamaron a las nueve de la noche, no me parece bien.",
        ],
    },
    "en": {
        "promoter": ["Very patient and kind.", "They helped me find a plan I can afford."],
        "passive": ["It was fine.", "OK, a bit long."],
        "detractor": ["Pushy and rude.", "They kept asking for $300 today."],
    },
}


def _group(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def survey_data_delete(*, clients: Iterable[Client]) -> None:
    """Delete the survey rows of these clients (before their collection data goes), children
    first. Opt-outs are kept: they are evidence, and not per client."""
    client_ids = [c.pk for c in clients]
    with transaction.atomic():
        from nps.models import FollowUpCase, NpsRollup

        FollowUpCase.objects.filter(client_id__in=client_ids).delete()
        NpsRollup.objects.filter(client_id__in=client_ids).delete()
        SurveyResponse.objects.filter(client_id__in=client_ids).delete()
        CallAttempt.objects.filter(case__client_id__in=client_ids).delete()
        CatiCase.objects.filter(client_id__in=client_ids).delete()
        ReviewItem.objects.filter(inbound__invitation__client_id__in=client_ids).delete()
        InboundMessage.objects.filter(invitation__client_id__in=client_ids).delete()
        sids = SmsMessage.objects.filter(invitation__client_id__in=client_ids).values_list(
            "provider_sid", flat=True
        )
        StatusEvent.objects.filter(message_sid__in=list(sids)).delete()
        SmsMessage.objects.filter(invitation__client_id__in=client_ids).delete()
        Invitation.objects.filter(client_id__in=client_ids).delete()


class SurveyHistory:
    """Replays the survey programme day by day over the world's last HISTORY_DAYS days."""

    def __init__(self, world: DemoManifest, *, seed: int) -> None:
        self.world = world
        self.rng = random.Random(seed * 7919 + 11)
        self.empathy = {op.ref: op.empathy for op in world.operators}
        self.paid_at: dict[int, list[dt.datetime]] = defaultdict(list)
        self.responses = 0
        self.messages = 0
        self.cati: dict[str, int] = defaultdict(int)
        from django.contrib.auth import get_user_model

        # The demo's callers work the queue at each pass, through the real CATI services.
        self.callers = list(
            get_user_model().objects.filter(membership__role="caller").order_by("username")
        )

    def run(self, *, today: dt.date) -> dict[str, int]:
        clients = Client.objects.filter(ref__in=[c.ref for c in self.world.clients])
        for account_id, paid_at in Payment.objects.filter(
            client__in=clients, reversal_of__isnull=True
        ).values_list("account_id", "paid_at"):
            self.paid_at[account_id].append(paid_at)
        first = today - dt.timedelta(days=HISTORY_DAYS)
        # The replay never runs past the present: what is due later is left for the live
        # product (beat, the CATI callers) to do.
        horizon = min(timezone.now(), dt.datetime.combine(today, dt.time(23, 59), tzinfo=dt.UTC))
        day = first
        while day <= today:
            for hour in PASSES_UTC:
                now = dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)
                if now > horizon:
                    break
                self._pass(now)
            end_of_day = min(horizon, dt.datetime.combine(day, dt.time(22), tzinfo=dt.UTC))
            invitations_fall_back(now=end_of_day)
            invitations_expire(now=end_of_day)
            day += dt.timedelta(days=1)
        return {
            "messages": self.messages,
            "responses": self.responses,
            "cati_calls": sum(self.cati.values()),
            "cati_completes": self.cati.get("complete", 0),
        }

    def _pass(self, now: dt.datetime) -> None:
        contacts_plan(now=now, seed=int(now.timestamp()))
        while True:
            batch = invitations_dispatch_batch(now=now, batch_size=500, enqueue=False)
            for message_id in batch.message_ids:
                if sms_send(message_id=message_id, now=now).result == "sent":
                    self.messages += 1
            if batch.claimed < 500:
                break
        sent_now = Invitation.objects.filter(
            status=InvitationStatus.SENT, sent_at=now
        ).select_related("contact__account", "operator")
        for invitation in sent_now:
            self._maybe_answer(invitation, sent_at=now)
        if self.callers and now.hour in CATI_HOURS_UTC:
            from surveys.cati_demo import cati_demo_work

            done = cati_demo_work(
                now=now,
                callers=self.callers,
                rng=self.rng,
                score_for=lambda inv: self._score(inv, channel=ResponseChannel.CATI, answered=now),
                limit=25,
            )
            for code, count in done.items():
                self.cati[code] += count

    def _score(self, invitation: Invitation, *, channel: str, answered: dt.datetime) -> int:
        empathy = self.empathy.get(invitation.operator.ref, 0.0)
        paid_after = any(
            invitation.contact.started_at <= paid <= answered + dt.timedelta(days=30)
            for paid in self.paid_at.get(invitation.contact.account_id, ())
        )
        mean = 6.9 + 1.9 * empathy + (0.7 if paid_after else 0.0)
        spread = 2.6 if channel == ResponseChannel.CATI else 2.1
        return max(0, min(10, round(self.rng.gauss(mean, spread))))

    def _maybe_answer(self, invitation: Invitation, *, sent_at: dt.datetime) -> None:
        empathy = self.empathy.get(invitation.operator.ref, 0.0)
        rng = self.rng
        opened = rng.random() < 0.55 + 0.1 * empathy
        if not opened:
            return
        delay = dt.timedelta(minutes=min(2 * 24 * 60, rng.expovariate(1 / 180)) + 1)
        answered = sent_at + delay
        Invitation.objects.filter(pk=invitation.pk).update(
            opened_at=answered - dt.timedelta(minutes=1)
        )
        if rng.random() > RESPONSE_RATE / 0.55:
            return
        channel = (
            ResponseChannel.SMS_REPLY if rng.random() < SMS_REPLY_SHARE else (ResponseChannel.WEB)
        )
        score = self._score(invitation, channel=channel, answered=answered)
        try:
            response_record(
                invitation_id=invitation.pk,
                channel=channel,
                answers={"nps": score},
                now=answered,
            )
            if rng.random() < PARTIAL_SHARE:
                self.responses += 1
                return
            answers: dict[str, object] = {}
            group = _group(score)
            if rng.random() < (0.85 if group == "detractor" else 0.6):
                bank = REASONS.get(invitation.language, REASONS["en"])[group]
                answers["reason"] = rng.choice(bank)
            if channel == ResponseChannel.WEB:
                answers["listened"] = max(1, min(5, round(score / 2.2 + rng.gauss(0, 0.7))))
                answers["solution"] = "yes" if score >= 7 or rng.random() < 0.2 else "no"
            response_record(
                invitation_id=invitation.pk,
                channel=channel,
                answers=answers,
                complete=True,
                now=answered + dt.timedelta(minutes=1),
            )
        except (AlreadyAnswered, NotAnswerable):
            return
        self.responses += 1


def opt_outs_seed(*, clients: Iterable[Client], rng: random.Random, share: float = 0.01) -> int:
    """A few debtors replied STOP at some point: they are opted out for every client."""
    from surveys.optouts import opt_out_record

    phones = sorted(
        set(
            Invitation.objects.filter(client__in=list(clients))
            .filter(Q(status=InvitationStatus.SENT) | Q(status=InvitationStatus.EXPIRED))
            .values_list("phone_e164", flat=True)
        )
    )
    chosen = [p for p in phones if rng.random() < share]
    for phone in chosen:
        opt_out_record(phone_e164=phone, source=OptOutEvent.Source.SMS_KEYWORD, detail="STOP")
    return OptOut.objects.filter(phone_e164__in=chosen).count()
