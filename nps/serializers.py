"""Shapes of the analytics API's answers, for the OpenAPI description (/api/schema/).

The views build their answers with nps.exports (the same rows the CSV carries); these
serializers only describe them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

_NULLABLE_FLOAT: dict[str, Any] = {"allow_null": True, "required": False}


class NpsRowSerializer(serializers.Serializer[Any]):
    client = serializers.CharField(required=False, help_text="client reference (group key)")
    client_name = serializers.CharField(required=False)
    operator = serializers.CharField(required=False, help_text="operator reference (group key)")
    operator_name = serializers.CharField(required=False)
    channel = serializers.CharField(required=False, help_text="web, sms_reply or cati")
    contact_type = serializers.CharField(required=False, help_text="phone or home_visit")
    outcome = serializers.CharField(required=False, help_text="contact outcome code")
    week = serializers.DateField(required=False, help_text="Monday the week starts on")
    month = serializers.DateField(required=False, help_text="first day of the month")
    quarter = serializers.DateField(required=False, help_text="first day of the quarter")
    n = serializers.IntegerField(help_text="answers with a score")
    promoters = serializers.IntegerField(
        help_text="scores 9-10; null when hidden or shrunk_only (the counts give the score)",
        allow_null=True,
    )
    passives = serializers.IntegerField(help_text="scores 7-8; null likewise", allow_null=True)
    detractors = serializers.IntegerField(help_text="scores 0-6; null likewise", allow_null=True)
    nps = serializers.FloatField(
        help_text="100 x (promoters - detractors) / n; null when hidden or shrunk_only",
        **_NULLABLE_FLOAT,
    )
    ci_low = serializers.FloatField(help_text="adjusted-Wald 95 % interval", **_NULLABLE_FLOAT)
    ci_high = serializers.FloatField(**_NULLABLE_FLOAT)
    shrunk_nps = serializers.FloatField(
        help_text="operator NPS shrunk toward the client (operator rows only)", **_NULLABLE_FLOAT
    )
    shrunk_low = serializers.FloatField(
        help_text="95 % credible interval, given where the shrunken value stands alone "
        "(state shrunk_only)",
        **_NULLABLE_FLOAT,
    )
    shrunk_high = serializers.FloatField(**_NULLABLE_FLOAT)
    state = serializers.ChoiceField(
        choices=["hidden", "shrunk_only", "shown", "ranked"],
        help_text="hidden under 10 answers; shrunk_only 10-29 (operators); shown; ranked 50+",
    )


class NpsPageSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="rows in the whole table")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    group_by = serializers.ListField(child=serializers.CharField())
    results = NpsRowSerializer(many=True)


class RatesRowSerializer(serializers.Serializer[Any]):
    client = serializers.CharField(required=False)
    operator = serializers.CharField(required=False)
    channel = serializers.CharField(required=False, help_text="the invitation's mode: sms or cati")
    cases = serializers.IntegerField(help_text="invitations with a final disposition")
    open = serializers.IntegerField(help_text="invitations still in the field (not counted)")
    I = serializers.IntegerField(help_text="complete")  # noqa: E741
    P = serializers.IntegerField(help_text="partial (score given)")
    R = serializers.IntegerField(help_text="refusal and break-off")
    NC = serializers.IntegerField(help_text="non-contact")
    O = serializers.IntegerField(help_text="other")  # noqa: E741
    UH = serializers.IntegerField(help_text="unknown eligibility, household")
    UO = serializers.IntegerField(help_text="unknown eligibility, other")
    NE = serializers.IntegerField(help_text="not eligible")
    rr1 = serializers.FloatField(**_NULLABLE_FLOAT)
    rr2 = serializers.FloatField(**_NULLABLE_FLOAT)
    coop1 = serializers.FloatField(**_NULLABLE_FLOAT)
    ref1 = serializers.FloatField(**_NULLABLE_FLOAT)
    con1 = serializers.FloatField(**_NULLABLE_FLOAT)
    sms_sent = serializers.IntegerField()
    sms_delivered = serializers.IntegerField()
    sms_opened = serializers.IntegerField()
    sms_completed = serializers.IntegerField()
    opened_rate = serializers.FloatField(help_text="opened / delivered", **_NULLABLE_FLOAT)
    completed_rate = serializers.FloatField(help_text="completed / delivered", **_NULLABLE_FLOAT)


class RatesSerializer(serializers.Serializer[Any]):
    group_by = serializers.ListField(child=serializers.CharField())
    results = RatesRowSerializer(many=True)


class RecoveryPointSerializer(serializers.Serializer[Any]):
    operator_ref = serializers.CharField()
    operator_name = serializers.CharField()
    n = serializers.IntegerField(help_text="answers")
    state = serializers.CharField()
    shrunk_nps = serializers.FloatField()
    accounts = serializers.IntegerField(help_text="accounts the operator worked first")
    currency = serializers.CharField()
    recovery_rate = serializers.FloatField(help_text="net collected / placed")


class RecoverySerializer(serializers.Serializer[Any]):
    client = serializers.CharField()
    rho = serializers.FloatField(help_text="Spearman, weighted by answers", **_NULLABLE_FLOAT)
    low = serializers.FloatField(help_text="bootstrap 95 % interval", **_NULLABLE_FLOAT)
    high = serializers.FloatField(**_NULLABLE_FLOAT)
    n_operators = serializers.IntegerField()
    points = RecoveryPointSerializer(many=True)


class PaymentGroupSerializer(serializers.Serializer[Any]):
    group = serializers.ChoiceField(choices=["promoter", "passive", "detractor"])
    responses = serializers.IntegerField()
    debtors = serializers.IntegerField()
    paid_within = serializers.IntegerField(help_text="answers followed by a payment in time")
    days = serializers.IntegerField()
    rate = serializers.FloatField(**_NULLABLE_FLOAT)
    low = serializers.FloatField(**_NULLABLE_FLOAT)
    high = serializers.FloatField(**_NULLABLE_FLOAT)


class PaymentsSerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField()
    results = PaymentGroupSerializer(many=True)


class NonResponseRowSerializer(serializers.Serializer[Any]):
    operator_ref = serializers.CharField(allow_null=True, help_text="null for the overall rows")
    operator_name = serializers.CharField(allow_null=True)
    group = serializers.ChoiceField(choices=["respondents", "non_respondents"])
    currency = serializers.CharField()
    accounts = serializers.IntegerField()
    placed = serializers.DecimalField(max_digits=20, decimal_places=2)
    collected = serializers.DecimalField(max_digits=20, decimal_places=2)
    rate = serializers.FloatField(**_NULLABLE_FLOAT)
    paying = serializers.IntegerField()
    paying_rate = serializers.FloatField(**_NULLABLE_FLOAT)


class NonResponseSerializer(serializers.Serializer[Any]):
    client = serializers.CharField()
    results = NonResponseRowSerializer(many=True)
