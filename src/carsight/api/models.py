"""Request and response models of the scoring API.

Kept apart from the warehouse tables, so the storage can change without breaking clients. Examples
show up in the OpenAPI docs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from carsight.warehouse import schema as S

Lang = Literal["ko", "en"]
BodyType = Literal[S.BODY_TYPES]  # type: ignore[valid-type]
PaymentType = Literal[S.PAYMENT_TYPES]  # type: ignore[valid-type]
CustomerId = Field(min_length=1, max_length=64, pattern=r"^[^\s/]+$", examples=["C000123"])


def _json_number(value):
    """Let only JSON numbers through: ``true`` is not a budget and ``"42"`` not an age, as the schema says."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


# Numbers as JSON Schema has them: 42.0 is the integer 42 (42.5 is not), and nothing else is coerced.
# The bounds go before the validator, so that the schema shows them as minimum/maximum.
def _whole(**bounds):
    return Annotated[int, Field(**bounds), BeforeValidator(_json_number)]


def _number(**bounds):
    return Annotated[float, Field(**bounds), BeforeValidator(_json_number)]


MAX_BATCH = 500
MAX_TEXTS = 100
MAX_TEXT_CHARS = 5_000


class ErrorBody(BaseModel):
    """What went wrong: the kind, a message, the field at fault and the request id."""

    kind: str = Field(examples=["not_found"])
    message: str = Field(examples=["customer C999 is not in the warehouse"])
    field: str | None = Field(default=None, examples=["customer.age"])
    request_id: str | None = Field(default=None, examples=["6f1c2a9e0b7d4c1f"])


class FieldProblem(BaseModel):
    """One invalid field of a request (422 answers list every one)."""

    field: str | None = None
    message: str


class ValidationErrorBody(ErrorBody):
    """An invalid request: the first problem, and every field at fault under ``fields``."""

    fields: list[FieldProblem] = []


class ErrorResponse(BaseModel):
    """The body of every error response."""

    error: ErrorBody


class ValidationErrorResponse(BaseModel):
    """The body of a 422 answer."""

    error: ValidationErrorBody


_ERRORS = {
    400: (ErrorResponse, "The body is not JSON (or not UTF-8), or a header is malformed"),
    401: (ErrorResponse, "Missing or invalid bearer token (`WWW-Authenticate: Bearer`)"),
    403: (ErrorResponse, "The caller's role may not use this route"),
    404: (ErrorResponse, "Not found; a customer outside the caller's dealers is not found either"),
    413: (ErrorResponse, "Request body too large (settings.api_max_body_bytes)"),
    422: (ValidationErrorResponse, "Invalid input: the field at fault and what was expected"),
    503: (ErrorResponse, "A model or result is not available yet: run `carsight pipeline run`"),
}


def error_responses(*codes: int) -> dict[int, dict]:
    """The OpenAPI ``responses`` of these error statuses, each with its body and meaning.

    Parameters
    ----------
    *codes : int
        HTTP statuses among 400, 401, 403, 404, 413, 422 and 503.

    Returns
    -------
    dict
        ``{status: {"model": ..., "description": ...}}`` for a route's or router's ``responses=``.
    """
    return {code: {"model": _ERRORS[code][0], "description": _ERRORS[code][1]} for code in codes}


# ---- new customers --------------------------------------------------------------------------
class NewCustomer(BaseModel):
    """What a dealer can type in for a customer who is not in the system yet. All optional."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "age": 42,
                    "gender": "F",
                    "region": "서울",
                    "interest_model": "Palisade",
                    "budget": 55_000_000,
                    "channel": "showroom",
                }
            ]
        },
    )

    age: _whole(ge=16, le=100) | None = Field(default=None, description="Whole years")
    gender: Literal["M", "F"] | None = None
    region: str | None = Field(default=None, min_length=1, max_length=40, description="Region (시/도)")
    interest_model: str | None = Field(
        default=None, min_length=1, max_length=60, description="Model the customer asked about"
    )
    body_type: BodyType | None = None
    budget: _number(gt=0, le=10_000_000_000) | None = Field(default=None, description="Budget in KRW")
    payment_type: PaymentType | None = None
    channel: str | None = Field(default=None, min_length=1, max_length=40, description="How the customer came in")


class BlockPull(BaseModel):
    """How much one feature block decided the segment."""

    feature: str
    label: str
    pull: float = Field(
        description="How much this feature block pulls towards the chosen segment rather than the runner-up"
    )
    imputed: bool


class SegmentAssignment(BaseModel):
    """The segment of a new customer, with the feature blocks that decided it."""

    segment_id: int = Field(examples=[3])
    profile: str = Field(examples=["40대 SUV 가족 고객, 할부 구매 비중이 높음"])
    runner_up: int = Field(examples=[1])
    distance: float
    runner_up_distance: float
    decided_by: list[BlockPull]
    imputed: list[str] = Field(description="Feature blocks not given, filled in from the customer base")
    notes: list[str]


class AssignBatchRequest(BaseModel):
    """Several new customers to assign at once."""

    model_config = ConfigDict(extra="forbid")
    customers: list[NewCustomer] = Field(min_length=1, max_length=MAX_BATCH)


class AssignBatchResponse(BaseModel):
    """The segments of several new customers, in the order asked."""

    results: list[SegmentAssignment]


# ---- existing customers ---------------------------------------------------------------------
class SegmentInfo(BaseModel):
    """A customer's segment and its plain-language profile."""

    segment_id: int
    profile: str | None = None


class RfmInfo(BaseModel):
    """A customer's RFM score, grade, segment and group."""

    score: float = Field(description="RFM score 0–100", examples=[91.5])
    grade: str = Field(examples=["Very Strong"])
    group: str = Field(examples=["VIP"])
    named_segment: str | None = Field(default=None, examples=["Champions"])
    recency_days: int
    frequency: int
    monetary_total: float
    as_of: dt.date


class PropensityInfo(BaseModel):
    """A customer's propensity for one target, with the grade and the top reasons."""

    target: str = Field(examples=["repurchase"])
    score: float = Field(ge=0, le=1, description="Calibrated probability")
    grade: int = Field(ge=1, le=10, description="1 = most likely")
    decile: int
    horizon_days: int
    as_of: dt.date
    reasons: list[str] = Field(description="Top reasons for this score, strongest first")


class ClvInfo(BaseModel):
    """A customer's lifetime value over the CLV horizon."""

    horizon_days: int
    expected_value: float | None = Field(description="Expected spend in the horizon, KRW")
    expected_purchases: float
    p_alive: float
    as_of: dt.date


class RecommendationItem(BaseModel):
    """One recommended model with its rank, score and reason."""

    rank: int
    model: str = Field(examples=["Palisade"])
    score: float
    reason: str | None = None


class CustomerScores(BaseModel):
    """Everything the pipeline knows about one customer."""

    customer_id: str = Field(examples=["C000123"])
    segment: SegmentInfo | None = None
    rfm: RfmInfo | None = None
    propensity: list[PropensityInfo] = []
    clv: ClvInfo | None = None
    recommendations: list[RecommendationItem] = []


class CustomerBatchRequest(BaseModel):
    """Customer ids to look up at once."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"customer_ids": ["C000123", "C000456"]}]}
    )
    customer_ids: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class CustomerBatchResponse(BaseModel):
    """The customers found, and the ids that are not in the warehouse."""

    customers: list[CustomerScores]
    missing: list[str] = Field(description="Ids not in the warehouse")


# ---- recommendations ------------------------------------------------------------------------
class RecommendationRequest(BaseModel):
    """Either an existing ``customer_id`` or a ``customer`` profile (for someone new), not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_id": "C000123", "k": 3}, {"customer": {"age": 35, "budget": 40_000_000}, "k": 3}],
            # Exactly one of the two, as the validator below enforces.
            "oneOf": [{"required": ["customer_id"]}, {"required": ["customer"]}],
        },
    )
    # Not nullable: leave the field out instead of sending null (the schema's oneOf counts presence).
    customer_id: str = Field(default=None, min_length=1, max_length=64)  # type: ignore[assignment]
    customer: NewCustomer = Field(default=None)  # type: ignore[assignment]
    k: _whole(ge=1, le=10) = 3

    @model_validator(mode="after")
    def _one_of(self) -> RecommendationRequest:
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give either customer_id or customer, not both")
        return self


class RecommendationResponse(BaseModel):
    """Recommended models: the stored ones of a customer, or scored now for a new one."""

    customer_id: str | None = None
    source: Literal["stored", "model"] = Field(
        description="stored: computed by the last pipeline run; model: scored now"
    )
    recommendations: list[RecommendationItem]


# ---- voice of the customer ------------------------------------------------------------------
class VocClassifyRequest(BaseModel):
    """Texts to mask and classify."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"texts": ["계기판에 경고등이 켜졌어요. 010-1234-5678로 연락 주세요"]}]},
    )
    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)

    @model_validator(mode="after")
    def _lengths(self) -> VocClassifyRequest:
        for index, text in enumerate(self.texts):
            if len(text) > MAX_TEXT_CHARS:
                raise ValueError(f"texts[{index}] is longer than {MAX_TEXT_CHARS} characters")
        return self


class VocResult(BaseModel):
    """One text masked, with its topic, confidence and keywords."""

    masked_text: str = Field(examples=["계기판에 경고등이 켜졌어요. [전화번호]로 연락 주세요"])
    topic: str | None = Field(examples=["경고등"])
    confidence: float | None = Field(ge=0, le=1)
    needs_review: bool | None
    keywords: list[str]


class VocClassifyResponse(BaseModel):
    """The results of the texts, in the order asked."""

    results: list[VocResult]


# ---- forecasts ------------------------------------------------------------------------------
class ForecastPoint(BaseModel):
    """One month of a forecast with its 80% and 95% intervals."""

    ds: dt.date
    mean: float
    lo_80: float | None = None
    hi_80: float | None = None
    lo_95: float | None = None
    hi_95: float | None = None


class ForecastResponse(BaseModel):
    """One series' forecast, with the chosen method and its backtest beside the baseline."""

    series_id: str = Field(examples=["Hyundai/Tucson/Korea"])
    level: str | None = Field(default=None, examples=["brand/model/market"])
    model: str | None = Field(default=None, description="The method chosen by backtest", examples=["AutoETS"])
    points: list[ForecastPoint]
    backtest: dict[str, float | int | str | None] = Field(
        default_factory=dict,
        description="Chosen method's backtest: mase beside the baseline's (mase_snaive), interval coverage, warnings",
    )


class ForecastSeries(BaseModel):
    """A forecast series and its level."""

    series_id: str
    level: str | None = None


class ForecastList(BaseModel):
    """Every forecast series."""

    series: list[ForecastSeries]


# ---- insights -------------------------------------------------------------------------------
class TriggerRule(BaseModel):
    """One trigger rule with its coverage, confidence, lift and profit efficiency."""

    rank: int = Field(ge=1)
    conditions: str = Field(examples=["leads_90d>=3 & vehicle_age_days>1825"])
    coverage: float = Field(description="Customers meeting the conditions ÷ all customers")
    support: float = Field(description="Customers meeting the conditions with the outcome ÷ all customers")
    confidence: float
    lift: float
    customers: int
    responders: int
    profit_efficiency: float | None = Field(
        default=None, description="(margin × responders − cost × contacts) ÷ (cost × contacts)"
    )
    representative: bool = Field(description="Overlaps no better representative rule by more than half")


class TriggerResponse(BaseModel):
    """The repurchase trigger rules, best first, with the numbers they were mined on."""

    target: str = Field(examples=["repurchase"])
    reference_date: dt.date = Field(description="Features use events before it; the outcome is counted after it")
    horizon_days: int
    base_rate: float = Field(description="Outcome rate of all customers")
    population: int
    margin: float | None = None
    contact_cost: float | None = None
    rules: list[TriggerRule]


class DriverSegment(BaseModel):
    """One segment that drove a change, with its share of the change."""

    rank: int = Field(ge=1)
    segment: str = Field(examples=["model=Tucson & market=USA"])
    dimensions: dict[str, str] = Field(description="The fixed dimension values (the others are 'all')")
    base: float
    current: float
    change: float
    share_of_change: float | None = Field(default=None, description="change ÷ the whole change")
    volume: float | None = None
    mix: float | None = None
    rate: float | None = None


class DriverResponse(BaseModel):
    """The segments that explain the change between two periods."""

    analysis: Literal["sales", "purchases"]
    comparison: Literal["year", "quarter"]
    base_start: dt.date
    base_end: dt.date
    current_start: dt.date
    current_end: dt.date
    base_total: float
    current_total: float
    other_change: float = Field(description="The change outside the segments")
    segments: list[DriverSegment]


# ---- health ---------------------------------------------------------------------------------
class Health(BaseModel):
    """Whether the API has data and models behind it."""

    status: Literal["ok", "degraded"]
    version: str
    loaded_at: dt.datetime | None
    customers: int
    available: dict[str, bool] = Field(description="Which parts of the API have data or a model behind them")


# ---- alerts ---------------------------------------------------------------------------------
class Alert(BaseModel):
    """One monitoring alert: what is wrong, how badly, and since when (docs/monitoring.md)."""

    alert_id: str
    check: str = Field(description="data.freshness, data.drift, models.forecast, business.sales_interval, …")
    subject: str = Field(description="The table, model, series or keyword concerned")
    severity: Literal["info", "warning", "critical"]
    status: Literal["open", "closed"]
    message: str = Field(description="In the requested language")
    value: float | None = None
    threshold: float | None = Field(default=None, description="From carsight.toml [monitor]")
    opened_at: dt.datetime
    last_seen_at: dt.datetime
    closed_at: dt.datetime | None = None


class AlertList(BaseModel):
    """Alerts of the monitoring checks, most severe and newest first."""

    alerts: list[Alert]
