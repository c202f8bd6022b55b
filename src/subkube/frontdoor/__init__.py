"""The vcluster's one public address, awake (a TCP proxy in the runner) and asleep (a lean
process that holds the listening socket and wakes the runner on the first connection).

`asleep` must stay cheap: it and what it imports (clock, handover, policy) use only the
standard library, cronsim and subkube.config.schedule.
"""
