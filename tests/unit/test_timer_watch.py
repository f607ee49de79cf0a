"""TimerWatch: a shard reads a partition's timers only when something there may be due."""

from actors.shard.timer_watch import TimerWatch


def test_unknown_partitions_are_read_then_only_when_due() -> None:
    watch = TimerWatch()
    assert watch.to_read([1, 2, 3], now_ms=1000) == [1, 2, 3]
    watch.read({1: None, 2: 5000, 3: None}, still_due=set())
    assert watch.to_read([1, 2, 3], now_ms=2000) == []
    watch.read({}, set())
    assert watch.to_read([1, 2, 3], now_ms=5000) == [2]


def test_a_timer_armed_after_the_read_is_due_at_its_time() -> None:
    watch = TimerWatch()
    watch.to_read([1], now_ms=0)
    watch.read({1: None}, set())
    watch.armed(1, 300)
    assert watch.to_read([1], now_ms=299) == []
    watch.read({}, set())
    assert watch.to_read([1], now_ms=300) == [1]


def test_a_timer_armed_while_a_read_is_on_its_way_is_not_overwritten_by_the_read() -> None:
    watch = TimerWatch()
    assert watch.to_read([1], now_ms=0) == [1]
    watch.armed(1, 50)  # a turn commits between the read's request and its answer
    watch.read({1: 9000}, set())
    assert watch.to_read([1], now_ms=50) == [1]


def test_partitions_with_due_timers_in_flight_are_read_again_next_tick() -> None:
    watch = TimerWatch()
    watch.to_read([1], now_ms=100)
    watch.read({1: None}, still_due={1})
    assert watch.to_read([1], now_ms=101) == [1]


def test_a_partition_lost_during_a_read_is_read_whole_when_taken_again() -> None:
    watch = TimerWatch()
    watch.to_read([1], now_ms=0)
    watch.forget([1])
    watch.read({1: None}, set())
    assert watch.to_read([1], now_ms=1) == [1]


def test_forget_all_reads_every_partition_again() -> None:
    watch = TimerWatch()
    watch.to_read([1, 2], now_ms=0)
    watch.read({1: None, 2: None}, set())
    watch.forget_all()
    assert watch.to_read([1, 2], now_ms=1) == [1, 2]
