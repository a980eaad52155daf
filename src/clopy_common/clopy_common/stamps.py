"""Conversions between ROS stamps and seconds / nanoseconds."""
from builtin_interfaces.msg import Time


def to_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def to_s(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def from_ns(ns: int) -> Time:
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def from_s(t_s: float) -> Time:
    return from_ns(int(round(t_s * 1e9)))
