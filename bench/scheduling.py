"""Scheduling on a simulated fleet, driven by the real router code on a virtual clock.

    python bench/scheduling.py [--mix catalog|drafts] [--capacity 2] [--window 600] [--jobs 600]

4 devices (each holds 2 models, LRU; one job at a time), 8 models with load times of 10-60 s and
run times of 20-300 s, requests drawn from a Zipf mix (the popular models are the quick ones, as
on a real gateway) arriving faster than the fleet can serve. ``--mix drafts`` is a drafting
session: short runs on big checkpoints (runs 20-60 s, loads 20-60 s). The throughput ratio any
policy can reach over FIFO is bounded by 1 + (FIFO's load seconds / run seconds): see "zero loads".
Policies:

- fifo: one queue; a free device takes the oldest job and loads its model if it must.
- least-loaded: each job goes to the device with the least queued run time (ignoring warmth).
- warm-aware: each job goes where ``router.plan(..., policy="fastest")`` says it finishes first,
  counting queue, cold load and run time (``router.estimate``); each device reports the work ahead
  (its queue replayed through its LRU, loads included) and the models resident after it.
- warm-dispatch: one queue, as fifo, but a free device takes ``router.next_job``'s pick: the oldest
  job for a model it holds, within a reorder window (``--window``, default 600 s, and at most
  ``--load-factor`` times the oldest job's model load time) of the oldest job; else the model with
  the most jobs in that window. This is how the gateway's workers claim jobs.

Throughput is jobs per hour over the makespan; the bound is the throughput with zero model loads.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from adapters import fake_model_spec
from local_models import VideoRequest
from router import (
    LOAD_FACTOR,
    BackendView,
    FleetView,
    History,
    Offer,
    Queued,
    RoutingPreferences,
    next_job,
    plan,
)

FRAMES, STEPS = 8, 4  # every simulated request; run time comes from History per model
MIXES = {  # (id, run seconds, load seconds): most popular first
    # A catalog from drafts to finals: the popular models are the quick ones.
    "catalog": [
        ("m0", 20, 60),
        ("m1", 30, 45),
        ("m2", 45, 50),
        ("m3", 60, 30),
        ("m4", 90, 20),
        ("m5", 150, 40),
        ("m6", 220, 10),
        ("m7", 300, 35),
    ],
    # A drafting session: short previews on big checkpoints, where a load costs more than a run.
    "drafts": [
        ("m0", 20, 60),
        ("m1", 20, 50),
        ("m2", 25, 55),
        ("m3", 30, 45),
        ("m4", 30, 60),
        ("m5", 40, 40),
        ("m6", 45, 30),
        ("m7", 60, 20),
    ],
}


@dataclass
class Job:
    id: int
    model: str
    arrival: float
    finish: float = 0.0


@dataclass
class Device:
    name: str
    capacity: int = 2
    loaded: OrderedDict[str, None] = field(default_factory=OrderedDict)
    queue: deque[Job] = field(default_factory=deque)
    busy_until: float = 0.0
    running: Job | None = None
    loads: int = 0

    def start(self, job: Job, now: float, run: dict[str, float], load: dict[str, float]) -> float:
        cost = run[job.model]
        if job.model in self.loaded:
            self.loaded.move_to_end(job.model)
        else:
            self.loads += 1
            cost += load[job.model]
            self.loaded[job.model] = None
            while len(self.loaded) > self.capacity:
                self.loaded.popitem(last=False)
        self.running, self.busy_until = job, now + cost
        return self.busy_until

    def outlook(self, now: float, run: dict[str, float], load: dict[str, float]) -> tuple[float, list[str]]:
        """Work ahead of a new job (its queue replayed through the LRU, loads included), and which
        models will be resident when that work is done."""
        work = max(0.0, self.busy_until - now) if self.running else 0.0
        resident = OrderedDict(self.loaded)
        for job in self.queue:
            work += run[job.model]
            if job.model in resident:
                resident.move_to_end(job.model)
            else:
                work += load[job.model]
                resident[job.model] = None
                while len(resident) > self.capacity:
                    resident.popitem(last=False)
        return work, list(resident)

    def backlog(self, now: float, run: dict[str, float]) -> float:
        """Queued run time, ignoring loads (what a least-loaded balancer sees)."""
        work = max(0.0, self.busy_until - now) if self.running else 0.0
        return work + sum(run[job.model] for job in self.queue)


def simulate(
    policy: str,
    jobs: list[Job],
    devices: int,
    run: dict[str, float],
    load: dict[str, float],
    capacity: int = 2,
    window: float = 600.0,
    load_factor: float = LOAD_FACTOR,
) -> dict:
    fleet = [Device(f"gpu{i}", capacity) for i in range(devices)]
    shared = policy in ("fifo", "warm-dispatch")
    specs = {m: fake_model_spec(m) for m in run}
    history = {m: History(run[m] / (FRAMES * STEPS), load[m]) for m in run}
    waiting: deque[Job] = deque()  # fifo's single queue
    events: list[tuple[float, int, str, int]] = [(j.arrival, 0, "arrive", j.id) for j in jobs]
    heapq.heapify(events)
    by_id = {j.id: j for j in jobs}
    seq = len(jobs)

    def dispatch(device: Device, now: float) -> None:
        nonlocal seq
        if device.running is not None:
            return
        source = waiting if shared else device.queue
        if source:
            if policy == "warm-dispatch":
                pick = next_job(
                    [Queued(str(j.id), j.model, j.arrival, load_seconds=load[j.model]) for j in source],
                    {("", m) for m in device.loaded},
                    window_seconds=window,
                    load_factor=load_factor,
                )
                assert pick is not None
                job = by_id[int(pick.id)]
                source.remove(job)
            else:
                job = source.popleft()
            seq += 1
            heapq.heappush(events, (device.start(job, now, run, load), seq, "done", device.name.__hash__()))
            finishing[device.name] = job

    finishing: dict[str, Job] = {}
    names = {d.name.__hash__(): d for d in fleet}
    while events:
        now, _, kind, ref = heapq.heappop(events)
        if kind == "arrive":
            job = by_id[ref]
            if shared:
                waiting.append(job)
                for d in fleet:
                    dispatch(d, now)
                continue
            if policy == "least-loaded":
                target = min(fleet, key=lambda d: (d.backlog(now, run), d.name))
            else:
                outlooks = {d.name: d.outlook(now, run, load) for d in fleet}
                view = FleetView(
                    backends={
                        name: BackendView(queued_seconds=work, warm_models=frozenset(resident))
                        for name, (work, resident) in outlooks.items()
                    },
                    history=history,
                )
                offers = [Offer(specs[job.model], d.name) for d in fleet]
                routed = plan(
                    VideoRequest(model=job.model, mode="t2v", frames=FRAMES, steps=STEPS, seed=0),
                    offers,
                    RoutingPreferences(policy="fastest"),
                    view=view,
                )
                target = next(d for d in fleet if d.name == routed.first.backend)
            target.queue.append(job)
            dispatch(target, now)
        else:
            device = names[ref]
            done = finishing.pop(device.name)
            done.finish = now
            device.running = None
            if shared:
                for d in fleet:
                    dispatch(d, now)
            else:
                dispatch(device, now)
    makespan = max(j.finish for j in jobs) - min(j.arrival for j in jobs)
    latency = sorted(j.finish - j.arrival for j in jobs)
    return {
        "throughput": len(jobs) / makespan * 3600,
        "p50": statistics.median(latency),
        "p95": latency[int(0.95 * (len(latency) - 1))],
        "loads": sum(d.loads for d in fleet),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--zipf", type=float, default=1.2)
    parser.add_argument("--mix", choices=sorted(MIXES), default="catalog")
    parser.add_argument("--capacity", type=int, default=2, help="models resident per device")
    parser.add_argument("--window", type=float, default=600.0, help="warm-dispatch reorder window, s")
    parser.add_argument(
        "--load-factor", type=float, default=LOAD_FACTOR, help="window at most this many model loads"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    models = MIXES[args.mix]
    run = {m: float(r) for m, r, _ in models}
    load = {m: float(lo) for m, _, lo in models}
    weights = [1 / (rank + 1) ** args.zipf for rank in range(len(models))]
    mix = rng.choices([m for m, _, _ in models], weights=weights, k=args.jobs)
    mean_run = sum(run[m] for m in mix) / len(mix)
    rate = (
        1.5 * args.devices / mean_run
    )  # arrivals outpace the fleet: the queue builds, throughput is capacity
    t, jobs = 0.0, []
    for i, model in enumerate(mix):
        t += rng.expovariate(rate)
        jobs.append(Job(i, model, t))
    bound = args.jobs / (sum(run[m] for m in mix) / args.devices) * 3600
    results = {}
    for policy in ("fifo", "least-loaded", "warm-aware", "warm-dispatch"):
        results[policy] = simulate(
            policy,
            [Job(j.id, j.model, j.arrival) for j in jobs],
            args.devices,
            run,
            load,
            args.capacity,
            args.window,
            args.load_factor,
        )
    base = results["fifo"]["throughput"]
    print(
        f"\nScheduling: {args.jobs} jobs, {args.devices} devices x {args.capacity} resident models, "
        f"mix {args.mix!r} ({len(models)} models, loads {min(load.values()):.0f}-{max(load.values()):.0f} s, "
        f"runs {min(run.values()):.0f}-{max(run.values()):.0f} s), Zipf {args.zipf}, virtual clock\n"
    )
    print("| policy        | jobs/hour | vs fifo | p50 s  | p95 s   | model loads |")
    print("|---------------|-----------|---------|--------|---------|-------------|")
    for name, r in results.items():
        print(
            f"| {name:<13} | {r['throughput']:9.1f} | {r['throughput'] / base:6.2f}x | {r['p50']:6.0f} | "
            f"{r['p95']:7.0f} | {r['loads']:11d} |"
        )
    print(f"| zero loads    | {bound:9.1f} | {bound / base:6.2f}x |        |         |           0 |")


if __name__ == "__main__":
    main()
