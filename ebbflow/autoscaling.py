"""Wiring the autoscaler from settings: which fleet it acts on, and the loop around it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from autoscaler.decide import Decision
from autoscaler.decision_log import DecisionLog
from autoscaler.fleet import Fleet
from autoscaler.loop import Autoscaler
from autoscaler.memory import GuardMemory
from autoscaler.spot_prices import Ec2SpotPrices, configured_spot_prices
from dispatcher.markets import Market
from ebbflow.config import Settings
from ebbflow.stores import open_leader_lease
from scheduler.errors import ConfigError
from scheduler.leader import NotLeaderError
from scheduler.queue import Scheduler


def open_fleet(settings: Settings) -> Fleet:
    """The configured fleet; Ray's needs this process connected to the cluster (ebbflow.head.connect_ray)."""
    scaling = settings.autoscaler
    if not scaling.node_types:
        raise ConfigError("autoscaler.node_types: none configured; list the node types the fleet may launch")
    if scaling.fleet == "ec2":
        return _ec2_fleet(settings)
    from autoscaler.ray_fleet import RayFleet

    return RayFleet(scaling.node_types, prices=spot_price_source(settings))


def spot_price_source(settings: Settings) -> Callable[[], dict[str, float]]:
    """Where a Ray fleet's spot prices come from (Ray knows none, and a type without a price is never
    launched on spot): EC2's price history, or the prices configured on the node types."""
    scaling = settings.autoscaler
    if scaling.spot_prices == "node_types":
        missing = [t.name for t in scaling.node_types if t.market is Market.SPOT and t.spot_price is None]
        if missing:
            raise ConfigError(
                f"autoscaler.node_types: {', '.join(missing)} has no spot_price; give each spot type one,"
                ' or set autoscaler.spot_prices = "ec2" to read EC2\'s price history'
            )
        return configured_spot_prices(scaling.node_types)
    import boto3

    ec2 = scaling.ec2
    client = boto3.client("ec2", region_name=ec2.region, endpoint_url=ec2.endpoint_url)  # credentials: boto3's chain
    return Ec2SpotPrices(client, scaling.node_types)


def _ec2_fleet(settings: Settings) -> Fleet:
    import boto3

    from autoscaler.ec2_fleet import Ec2Fleet, LaunchSpec

    ec2 = settings.autoscaler.ec2
    if bool(ec2.image_id) == bool(ec2.launch_template):
        raise ConfigError("autoscaler.ec2: give exactly one of image_id and launch_template")
    client = boto3.client("ec2", region_name=ec2.region, endpoint_url=ec2.endpoint_url)  # credentials: boto3's chain
    launch = LaunchSpec(image_id=ec2.image_id, launch_template=ec2.launch_template, subnet_ids=ec2.subnet_ids)
    return Ec2Fleet(client, settings.autoscaler.node_types, ec2.cluster, launch)


def busy_slots_source(settings: Settings, scheduler: Scheduler) -> Callable[[], Mapping[Market, int]]:
    """Busy slots per market: Ray's figures for a Ray fleet (connecting this process to Ray), else the
    store's count of running jobs, all counted as spot (an upper bound: batched jobs share a slot)."""
    if settings.autoscaler.fleet == "ray":
        from dispatcher.capacity import busy_slots
        from ebbflow.head import connect_ray

        connect_ray(settings)
        return busy_slots

    def running_jobs() -> dict[Market, int]:
        return {Market.SPOT: sum(scheduler.store.stats().running.values())}

    return running_jobs


def make_autoscaler(
    settings: Settings,
    scheduler: Scheduler,
    fleet: Fleet,
    busy_slots: Callable[[], Mapping[Market, int]],
    unplaced: Callable[[], Mapping[tuple[int, str], int]] | None = None,
    ondemand_below_top: Callable[[], int] | None = None,
) -> Autoscaler:
    """`unplaced`: the dispatcher's leased-but-waiting jobs, and `ondemand_below_top`: the on-demand slots its
    jobs below the top level hold, when it runs in this process (the head)."""
    scaling = settings.autoscaler
    return Autoscaler(
        scheduler,
        fleet,
        scaling.policy(),
        DecisionLog(scaling.log_path, scaling.log_max_bytes, scaling.log_backups),  # the writer: it rotates
        busy_slots,
        schedules=settings.cron,
        unplaced=unplaced,
        ondemand_below_top=ondemand_below_top,
        # the store's clock: the guard's memory in the store is on one time line whichever head wrote it
        clock=lambda: scheduler.clock.now_ms() / 1000,
    )


def plan_once(settings: Settings, scheduler: Scheduler, scaler: Autoscaler, dry_run: bool, holder: str) -> Decision:
    """One round from the CLI, by the leader lease's rules (docs/heads.md): the plan reads the leader's memory
    in the store, so it shows the clamps the leading head would apply; acting takes the lease for the round
    (as `holder`), and is refused while a head leads, which would otherwise launch beside it."""
    lease = open_leader_lease(settings, scheduler.store)
    try:
        if dry_run:
            scaler.take_over(GuardMemory(lease, token=0))  # read only: a dry run writes nothing
            return scaler.tick(dry_run=True)
        token = lease.acquire(holder, round(settings.head.leader_ttl_s * 1000))
        if token is None:
            leader = lease.current()
            raise NotLeaderError(
                f"{leader.holder if leader else 'a head'} leads and runs the autoscaler; act there, "
                "or use --dry-run to see its plan"
            )
        try:
            scaler.take_over(GuardMemory(lease, token))
            return scaler.tick()
        finally:
            lease.release(holder, token)
    finally:
        lease.close()
