"""Heartbeat: learn a device's reporting interval; report `heartbeat_lost` once when it falls silent too long."""

from __future__ import annotations

import random

from sentinel.assets.cadence import ALL, CadenceConfig, CadenceTracker, regular_interval
from sentinel.assets.observe import Observer
from sentinel.events.perception import HeartbeatLost


def _feed(tr: CadenceTracker, key: str, times) -> list:
    out = []
    for t in times:
        out += tr.seen(key, ALL, t)
    return out


def test_regular_reporter_is_lost_exactly_once_after_three_intervals():
    tr = CadenceTracker(CadenceConfig(multiple=3))
    assert _feed(tr, "s1", [60.0 * i for i in range(20)]) == []
    assert tr.interval("s1") == 60.0
    last = 60.0 * 19
    assert tr.tick(last + 179.0) == []
    assert tr.tick(last + 180.0) == []  # exactly 3 x interval is not yet "more than"
    lost = tr.tick(last + 181.0)
    assert len(lost) == 1
    ev = lost[0]
    assert isinstance(ev, HeartbeatLost)
    assert (ev.device, ev.interval, ev.last_seen, ev.silent_for, ev.ts) == ("s1", 60.0, last, 181.0, last + 181.0)
    assert tr.tick(last + 500.0) == [] and tr.tick(last + 5000.0) == []  # no repeats while it stays silent
    assert tr.is_lost("s1")


def test_reporting_again_rearms_the_heartbeat():
    tr = CadenceTracker()
    _feed(tr, "s1", [10.0 * i for i in range(12)])
    assert len(tr.tick(110 + 31)) == 1
    assert tr.seen("s1", ALL, 150.0) == []  # back (the gap is an outlier; the median stays 10)
    assert not tr.is_lost("s1")
    assert tr.tick(150 + 30) == []
    assert len(tr.tick(150 + 31)) == 1


def test_jittery_but_regular_reporter_is_learnt():
    rng = random.Random(7)
    times = [30.0 * i + rng.uniform(-1.5, 1.5) for i in range(30)]
    tr = CadenceTracker()
    _feed(tr, "s2", times)
    assert abs(tr.interval("s2") - 30.0) < 2.0
    assert tr.tick(times[-1] + 3 * tr.interval("s2") - 1) == []
    assert len(tr.tick(times[-1] + 3 * tr.interval("s2") + 1)) == 1


def test_irregular_device_never_counts_as_lost():
    rng = random.Random(1)
    t, times = 0.0, []
    for _ in range(60):
        t += rng.expovariate(1 / 60.0)  # Poisson arrivals: no cadence to lose
        times.append(t)
    tr = CadenceTracker()
    assert _feed(tr, "human", times) == []
    assert tr.interval("human") is None
    assert tr.tick(times[-1] + 100_000) == []


def test_too_few_samples_is_not_a_cadence():
    tr = CadenceTracker(CadenceConfig(min_samples=8))
    _feed(tr, "new", [60.0 * i for i in range(8)])  # 7 gaps
    assert tr.interval("new") is None
    assert tr.tick(10_000) == []


def test_bursts_count_as_one_report():
    tr = CadenceTracker()
    times = []
    for i in range(15):  # each reading: conn + PUBLISH + DNS within 0.3 s
        times += [60.0 * i, 60.0 * i + 0.1, 60.0 * i + 0.3]
    _feed(tr, "s3", times)
    assert tr.interval("s3") == 60.0


def test_out_of_order_sightings_do_not_break_the_cadence():
    tr = CadenceTracker()
    _feed(tr, "s4", [20.0 * i for i in range(12)])
    assert tr.seen("s4", ALL, 5.0) == []  # a flow reported late with its start time
    assert tr.interval("s4") == 20.0


def test_regular_interval_rules():
    cfg = CadenceConfig(min_samples=4, max_dispersion=0.15, min_interval=1.0)
    assert regular_interval([10, 10, 10, 10], cfg) == 10
    assert regular_interval([10, 10, 10], cfg) is None
    assert regular_interval([1, 30, 5, 60, 2], cfg) is None
    assert regular_interval([0.1] * 10, cfg) is None  # a stream, not a heartbeat


def test_observer_reports_a_silent_mqtt_sensor_with_its_ip():
    obs = Observer()
    lost = []
    for i in range(20):  # a sensor publishing every 30 s; the broker answers its pings
        lost += obs.observe(dict(ts=30.0 * i, kind="mqtt", src_ip="10.0.9.5", src_port=40000, dst_ip="10.0.9.1",
                                 dst_port=1883, proto="tcp", msg_type="PUBLISH", topics=["t/temp"]))
    # another device keeps talking, so the clock moves on while the sensor is silent
    for j in range(1, 10):
        lost += obs.observe(dict(ts=570.0 + 15.0 * j, kind="icmp", src_ip="10.0.9.9", dst_ip="10.0.9.1",
                                 proto="icmp", icmp_type=8))
    # silent altogether: one event (its mqtt channel does not repeat what the device channel says)
    assert len(lost) == 1
    ev = lost[0]
    assert (ev.device, ev.src_ip, ev.interval, ev.last_seen) == ("10.0.9.5", "10.0.9.5", 30.0, 570.0)
    assert ev.ts > 570.0 + 90.0  # not before 3 x 30 s of silence
    later = obs.finish(10_000.0)  # end of input / a daemon clock tick: the pinger is overdue too, the sensor not again
    assert [e.device for e in later] == ["10.0.9.9"]


def test_protocol_channel_lost_while_the_device_still_talks():
    tr = CadenceTracker()
    lost = []
    for i in range(20):
        lost += tr.seen("gw", ALL, 60.0 * i)
        lost += tr.seen("gw", "mqtt", 60.0 * i)
    for i in range(20, 30):  # telemetry stops; the device keeps answering pings every 60 s
        lost += tr.seen("gw", ALL, 60.0 * i)
    assert len(lost) == 1
    assert lost[0].device == "gw" and lost[0].last_seen == 60.0 * 19
    assert getattr(lost[0], "protocol", "mqtt") == "mqtt"


def test_regular_interval_is_statistics_median_arithmetic():
    import random
    import statistics

    def reference(gaps, cfg):
        if len(gaps) < cfg.min_samples:
            return None
        med = statistics.median(gaps)
        if med < cfg.min_interval:
            return None
        mad = statistics.median([abs(g - med) for g in gaps])
        return med if mad <= cfg.max_dispersion * med else None

    rng = random.Random(5)
    cfg = CadenceConfig()
    for k in range(30_000):  # windows with ties and deviations at exactly max_dispersion x median included
        base = rng.choice([4.9, 5.0, 7.0, 10.0, 30.0, 60.0])
        n = rng.randint(1, 33)
        if k % 3 == 0:
            steps = [0.0, 0.5, -0.5, 1.0, -1.5, 0.75, base * 0.15, -base * 0.15]
            gaps = tuple(base + rng.choice(steps) for _ in range(n))
        elif k % 3 == 1:
            gaps = tuple(round(base + rng.gauss(0, base * rng.choice([0.01, 0.15, 0.3])), rng.choice([0, 1, 3]))
                         for _ in range(n))
        else:
            gaps = tuple(base * rng.choice([1, 1, 1, 2, 0.5, 1.15, 0.85]) for _ in range(n))
        assert regular_interval(gaps, cfg) == reference(gaps, cfg), gaps
    assert regular_interval([10, 10, 10.5, 10, 10, 10, 10, 10], cfg) == 10  # ints: the sorting path
    assert regular_interval([10.0] * 7 + [float("inf")], cfg) == reference([10.0] * 7 + [float("inf")], cfg)


def test_cadence_follows_a_device_renamed_by_arp():
    from sentinel.events.transport import Arp

    obs = Observer()
    lost = []
    for i in range(12):  # IP-keyed and regular: every 30 s
        lost += obs.observe(dict(ts=30.0 * i, kind="icmp", src_ip="10.0.9.5", dst_ip="10.0.9.1", proto="icmp"))
    assert obs.cadence.interval("10.0.9.5") == 30.0
    lost += obs.observe(Arp(ts=335.0, src_ip="10.0.9.5", dst_ip="10.0.9.1", proto="arp", operation="reply",
                            src_mac="00:40:8c:aa:bb:cc", dst_mac="00:00:00:00:00:01"))
    assert obs.cadence.interval("10.0.9.5") is None and obs.cadence.interval("00:40:8c:aa:bb:cc") == 30.0
    assert set(obs.cadence.channels_of("00:40:8c:aa:bb:cc")) == {ALL, "icmp"}
    for i in range(12, 20):  # the sightings after the merge land on the MAC's channels
        lost += obs.observe(dict(ts=30.0 * i, kind="icmp", src_ip="10.0.9.5", dst_ip="10.0.9.1", proto="icmp"))
    assert obs.cadence.channels[("00:40:8c:aa:bb:cc", "icmp")].last_seen == 570.0
    for j in range(1, 10):  # then silence, while another device keeps the clock moving
        lost += obs.observe(dict(ts=570.0 + 15.0 * j, kind="icmp", src_ip="10.0.9.9", dst_ip="10.0.9.1",
                                 proto="icmp"))
    assert [(e.device, e.src_ip, e.last_seen) for e in lost] == [("00:40:8c:aa:bb:cc", "10.0.9.5", 570.0)]
