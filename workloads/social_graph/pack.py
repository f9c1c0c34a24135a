"""The social-graph pack: one job per user fetches the friends' posts from each connected network and keeps
the videos they shared. A new sign-up's job is urgent; an active user's refresh runs at its activity's level."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from scheduler.job import JSONValue
from workloads.context import PackContext, PlanContext
from workloads.pack import Pack, PackJobType, PlannedJob
from workloads.params import split_commas

# Only what planning needs is imported here: every CLI command loads the installed packs, and the network
# clients (tweepy, httpx) are imported by the job itself, on the worker.
NetworkName = Literal["facebook", "x"]
NETWORKS: tuple[NetworkName, ...] = ("facebook", "x")

USER_ID = r"^[A-Za-z0-9_.-]{1,64}$"
Activity = Literal["new-signup", "daily-active", "weekly-active", "monthly-active"]


class SocialGraphParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: Annotated[list[Annotated[str, Field(pattern=USER_ID)]], BeforeValidator(split_commas)] = Field(
        min_length=1, max_length=100_000, description="user ids, comma-separated"
    )
    activity: Activity = Field(default="daily-active", description="picks the class: new-signup is urgent")
    networks: Annotated[list[NetworkName], BeforeValidator(split_commas)] = Field(
        default=list(NETWORKS), min_length=1, description="connected networks to fetch from"
    )
    lookback_days: int = Field(default=14, ge=1, le=365, description="how far back a first fetch reaches")
    tenant: str = Field(default="social-graph", min_length=1, max_length=100)


def plan(params: SocialGraphParams, ctx: PlanContext) -> list[PlannedJob]:
    payload_base = {"networks": list(dict.fromkeys(params.networks)), "lookback_days": params.lookback_days}
    return [
        PlannedJob(
            type="social-graph.fetch",
            payload={"user": user, **payload_base},
            tenant=params.tenant,
            job_class=params.activity,
            key=f"social-graph:{user}",  # a user already queued or running is not fetched twice at once
        )
        for user in dict.fromkeys(params.users)
    ]


def run_fetch(payload: JSONValue, ctx: PackContext) -> JSONValue:
    from dispatcher.context import JobCannotSucceed
    from workloads.social_graph.fetch import Progress, UserFetch
    from workloads.social_graph.networks import network
    from workloads.sources.errors import AccessDeniedError, NotFoundError, UsageCappedError

    assert isinstance(payload, dict)  # the schema says so; the scheduler checked it at submit
    resources = ctx.resources
    fetch = UserFetch(
        user_id=payload["user"],
        index=resources.index,
        rankings=resources.rankings,
        now_ms=ctx.now_ms(),
        lookback_days=payload.get("lookback_days", 14),
        save=ctx.save_checkpoint,
        stop_requested=ctx.stop_requested,
        report=ctx.report_progress,
    )
    networks = [(name, network(name, resources)) for name in payload["networks"]]
    try:
        done = fetch.run(networks, Progress.from_checkpoint(ctx.checkpoint))
    except (NotFoundError, AccessDeniedError) as err:  # no such user, or a token the network refuses
        raise JobCannotSucceed(str(err)) from err
    except UsageCappedError as err:  # a monthly cap: retries within the job's backoff would all meet it
        raise JobCannotSucceed(f"{err}; `ebbflow dlq retry` the job once the cap resets") from err
    skipped = {"friends_without_token": done.friends_without_token, "friends_unreadable": done.friends_unreadable}
    return {"pages": done.pages, "posts": done.posts, "videos": done.videos, **skipped}


FETCH_SCHEMA = {
    "type": "object",
    "properties": {
        "user": {"type": "string", "pattern": USER_ID},
        "networks": {"type": "array", "items": {"enum": list(NETWORKS)}, "minItems": 1, "uniqueItems": True},
        "lookback_days": {"type": "integer", "minimum": 1, "maximum": 365},
    },
    "required": ["user", "networks"],
    "additionalProperties": False,
}

PACK = Pack(
    name="social-graph",
    description="per user: friends' posts from each connected network → videos in the index and the user's stream",
    params=SocialGraphParams,
    job_types=(
        PackJobType(
            name="fetch",
            run=run_fetch,
            description="fetch one user's friends' posts since the saved cursor",
            payload_schema=FETCH_SCHEMA,
            default_class="daily-active",
            expected_run_s=2.0,
            time_limit_s=900.0,
            max_attempts=5,
        ),
    ),
    plan=plan,
)
