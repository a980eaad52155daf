"""Experiments across mice, days and rigs: definition files, the subject registry, schedules."""
